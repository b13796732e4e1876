import datetime as dt

import factory
from django.utils import timezone

from crm.models import Account, Contact, Role, Tag, Task, Team, User
from leads.models import Lead
from opportunities.models import Opportunity, OpportunitySettings, Stage


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.REP
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AdminFactory(UserFactory):
    role = Role.ADMIN


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Faker("company")
    industry = "Software"
    country = "Spain"
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    phone = "+34 600 00 00 00"
    owner = factory.SubFactory(UserFactory)
    account = None

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.set(extracted)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    owner = factory.SubFactory(UserFactory)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Deal {n}")
    contact = factory.SubFactory(ContactFactory)
    owner = factory.LazyAttribute(lambda o: o.contact.owner)
    amount = 1000
    # Open, in the default stage; closed deals go through opportunities.services.opportunity_move.
    stage = factory.LazyFunction(lambda: OpportunitySettings.objects.get(pk=1).default_stage)
    stage_entered_at = factory.LazyFunction(timezone.now)
    in_active_stage = factory.LazyAttribute(
        lambda o: OpportunitySettings.objects.get(pk=1).active_stages.filter(pk=o.stage.pk).exists()
    )


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    name = factory.Sequence(lambda n: f"Stage {n}")
    probability = 50
    order = factory.Sequence(lambda n: 100 + n)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Call back #{n}")
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=1))
    owner = factory.SubFactory(UserFactory)


class SequenceFactory(factory.django.DjangoModelFactory):
    """A sequence without steps; add them with ``SequenceStepFactory`` (or use the services)."""

    class Meta:
        model = "opportunities.Sequence"

    name = factory.Sequence(lambda n: f"Sequence {n}")
    stop_when_closed = True


class SequenceStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "opportunities.SequenceStep"

    sequence = factory.SubFactory(SequenceFactory)
    position = factory.Sequence(lambda n: n + 1)
    day_offset = 0
    kind = "task"
    title = factory.Sequence(lambda n: f"Step {n}")
    body = "Say hello."


class TriggerActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "opportunities.TriggerAction"

    event = "buy_now_clicked"
    action = "email_owner"
