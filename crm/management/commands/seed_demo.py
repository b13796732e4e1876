"""``python manage.py seed_demo``: a believable demo CRM for a first look.

Creates an admin and two sales reps (credentials printed at the end), the team "Sales", accounts in
Spanish and European markets, contacts with tags, tasks that are overdue, due today and upcoming for
each rep, and a few leads. Everything except the leads goes through ``crm.services`` so the audit
trail is written as it would be by hand.

Idempotent: when the database already has users it does nothing (exit status 0). ``--force`` seeds
anyway; records that already exist (same username, team name, account name and owner, contact or
lead e-mail, task title and owner) are left as they are, so running it twice never duplicates.
Deterministic: the same seed gives the same data (dates are relative to today).
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm import services
from crm.models import Account, Contact, EventKind, Role, Task, Team, User

SEED = 2026

# username, password, role, first name, last name: the passwords pass Django's validators.
DEMO_USERS = [
    ("admin", "admin-demo-pass", Role.ADMIN, "Ana", "Ortega"),
    ("marta", "marta-demo-pass", Role.REP, "Marta", "García"),
    ("luca", "luca-demo-pass", Role.REP, "Luca", "Bianchi"),
]
DEMO_TEAM = "Sales"
TAGS = ["decision-maker", "champion", "newsletter", "trade-show", "renewal", "technical"]


@dataclass
class DemoAccount:
    name: str
    industry: str
    country: str
    size: str
    domain: str
    contacts: list[tuple[str, str]] = field(default_factory=list)  # first and last names


# Each rep covers one territory.
TERRITORIES = {
    "marta": [
        DemoAccount(
            "Bodegas Altamira S.L.",
            "Food & beverage",
            "Spain",
            "51-200",
            "bodegas-altamira.example",
            [("Lucía", "Fernández"), ("Javier", "Moreno")],
        ),
        DemoAccount(
            "Logística Ibérica S.A.",
            "Logistics",
            "Spain",
            "201-1000",
            "logistica-iberica.example",
            [("Carmen", "Ruiz"), ("Pablo", "Navarro")],
        ),
        DemoAccount(
            "Atlântico Energia Lda.",
            "Energy",
            "Portugal",
            "201-1000",
            "atlantico-energia.example",
            [("João", "Almeida"), ("Inês", "Costa")],
        ),
        DemoAccount(
            "Clínica Dental Sonrisa",
            "Healthcare",
            "Spain",
            "11-50",
            "clinica-sonrisa.example",
            [("Elena", "Sánchez")],
        ),
    ],
    "luca": [
        DemoAccount(
            "Nordhaven Software GmbH",
            "Software",
            "Germany",
            "51-200",
            "nordhaven.example",
            [("Katrin", "Weber"), ("Jonas", "Fischer")],
        ),
        DemoAccount(
            "Lumière Retail SAS",
            "Retail",
            "France",
            "1000+",
            "lumiere-retail.example",
            [("Camille", "Durand"), ("Hugo", "Lefèvre")],
        ),
        DemoAccount(
            "Tessile Lombardo S.p.A.",
            "Manufacturing",
            "Italy",
            "201-1000",
            "tessile-lombardo.example",
            [("Giulia", "Romano"), ("Marco", "Ricci")],
        ),
        DemoAccount(
            "Van der Berg Logistics B.V.",
            "Logistics",
            "Netherlands",
            "51-200",
            "vanderberg.example",
            [("Sanne", "de Vries")],
        ),
    ],
}

PHONE_PREFIX = {
    "Spain": "+34 6",
    "Portugal": "+351 9",
    "Germany": "+49 15",
    "France": "+33 6",
    "Italy": "+39 3",
    "Netherlands": "+31 6",
    "Austria": "+43 6",
}

# title, kind, days from today (negative: overdue)
TASKS = [
    ("Send revised proposal to {contact}", "email", -4),
    ("Call {contact} about the pilot", "call", -1),
    ("Follow up with {contact} after the demo", "follow_up", 0),
    ("Prepare quarterly review for {account}", "todo", 0),
    ("Meeting with {contact} at {account}", "meeting", 3),
    ("Check renewal terms with {contact}", "call", 9),
]

# first, last, company, job title, source, industry, country, size, status
LEADS = {
    "marta": [
        ("Raúl", "Domínguez", "Hostelería Mediterránea", "Owner", "Website", "Hospitality",
         "Spain", "11-50", "new"),
        ("Nuria", "Vidal", "Cerámicas del Turia", "COO", "Trade show", "Manufacturing",
         "Spain", "51-200", "working"),
        ("Tiago", "Pereira", "Porto Têxteis", "Buyer", "Referral", "Manufacturing",
         "Portugal", "201-1000", "new"),
    ],
    "luca": [
        ("Lena", "Schmidt", "Alpenblick Hotels", "Revenue manager", "LinkedIn", "Hospitality",
         "Austria", "51-200", "working"),
        ("Pierre", "Martin", "Boulangeries Martin", "Founder", "Website", "Food & beverage",
         "France", "11-50", "new"),
        ("Chiara", "Esposito", "Napoli Design Studio", "Creative director", "Cold call",
         "Design", "Italy", "1-10", "new"),
    ],
}  # fmt: skip


def _ascii(text: str) -> str:
    """'Lucía de Vries' -> 'lucia-de-vries' (for made-up e-mail addresses)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(text.lower().replace(".", " ").split())


def _email(first: str, last: str, domain: str) -> str:
    return f"{_ascii(first)}.{_ascii(last).replace('-', '')}@{domain}"


class Command(BaseCommand):
    help = (
        "Create demo users (an admin and two reps), the team 'Sales' and sample accounts, "
        "contacts, tasks and leads. Does nothing when users already exist, unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even though the database already has users. Demo records that already "
            "exist are kept as they are (never duplicated); existing demo users keep their "
            "password.",
        )

    def handle(self, *args, force: bool = False, **options):
        if User.objects.exists() and not force:
            self.stdout.write(
                "The database already has users: demo data not seeded "
                "(use --force to add it anyway)."
            )
            if User.objects.filter(username=DEMO_USERS[0][0]).exists():
                self._print_credentials()
            return
        with transaction.atomic():
            created = self._seed()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Created: "
                + ", ".join(f"{label} {n}" for label, n in created.items())
                + "."
            )
        )
        self._print_credentials()

    def _print_credentials(self) -> None:
        self.stdout.write("Demo sign-ins (for a demo only; change or remove them otherwise):")
        for username, password, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:<6} / {password:<16} ({Role(role).label})")

    # --- seeding ------------------------------------------------------------------------------

    def _seed(self) -> dict[str, int]:
        rng = random.Random(SEED)
        today = timezone.localdate()
        created = dict.fromkeys(
            ["users", "teams", "accounts", "contacts", "tasks", "leads", "opportunities"], 0
        )

        users = {}
        admin_row, *rep_rows = DEMO_USERS
        users["admin"], new = self._admin(admin_row)
        created["users"] += new
        for row in rep_rows:
            users[row[0]], new = self._rep(users["admin"], row)
            created["users"] += new
        reps = [users[row[0]] for row in rep_rows]

        if not Team.objects.filter(name__iexact=DEMO_TEAM).exists():
            services.team_create(actor=users["admin"], name=DEMO_TEAM, members=reps)
            created["teams"] += 1

        for rep in reps:
            contacts = []
            for demo in TERRITORIES[rep.username]:
                account = Account.objects.filter(name=demo.name, owner=rep).first()
                if account is None:
                    account = services.account_create(
                        actor=rep,
                        name=demo.name,
                        industry=demo.industry,
                        country=demo.country,
                        company_size=demo.size,
                        owner=rep,
                    )
                    created["accounts"] += 1
                for first, last in demo.contacts:
                    email = _email(first, last, demo.domain)
                    phone = PHONE_PREFIX[demo.country] + "".join(
                        str(rng.randrange(10)) for _ in range(8)
                    )
                    tags = rng.sample(TAGS, rng.randrange(1, 3))
                    contact = Contact.objects.filter(email__iexact=email).first()
                    if contact is None:
                        contact = services.contact_create(
                            actor=rep,
                            first_name=first,
                            last_name=last,
                            email=email,
                            phone=phone,
                            account=account,
                            owner=rep,
                            tags=tags,
                        )
                        created["contacts"] += 1
                    contacts.append(contact)

            for i, (title, kind, days) in enumerate(TASKS):
                contact = contacts[i % len(contacts)]
                title = title.format(contact=contact.name, account=contact.account.name)
                if Task.objects.filter(title=title, owner=rep).exists():
                    continue
                services.task_create(
                    actor=rep,
                    title=title,
                    kind=kind,
                    due_on=today + dt.timedelta(days=days),
                    owner=rep,
                    contact=contact,
                )
                created["tasks"] += 1

            created["leads"] += self._leads(rep, rng)
            created["opportunities"] += self._opportunities(rep, contacts, rng)
        self._automation(users["admin"], reps)
        return created

    def _automation(self, admin: User, reps: list[User]) -> None:
        """Buy-now automation (tags, a welcome sequence), a nurture sequence for disqualified
        leads, and one buy-now link on each rep's first open deal."""
        from leads.models import DisqualificationReason
        from opportunities import services_automation as automation
        from opportunities import services_buynow as buynow
        from opportunities.models import BuyNowLink, Opportunity, Sequence

        if Sequence.objects.filter(name="Welcome after a purchase").exists():
            return
        welcome = automation.sequence_create(
            actor=admin,
            name="Welcome after a purchase",
            stop_when_closed=False,
            steps=[
                {"day_offset": 0, "kind": "task", "title": "Welcome call", "body": ""},
                {
                    "day_offset": 3,
                    "kind": "email",
                    "title": "How is it going?",
                    "body": "Tell us how the first days went: we are here to help.",
                },
                {"day_offset": 14, "kind": "task", "title": "Check the setup", "body": ""},
            ],
        )
        nurture = automation.sequence_create(
            actor=admin,
            name="Nurture: not now",
            steps=[
                {
                    "day_offset": 30,
                    "kind": "email",
                    "title": "News you may like",
                    "body": "A short update on what is new since we last talked.",
                },
                {"day_offset": 90, "kind": "task", "title": "Ask if the time is right", "body": ""},
            ],
        )
        for event, action, extra in (
            ("buy_now_clicked", "apply_tag", {"tag": "Clicked buy now"}),
            ("buy_now_clicked", "email_owner", {}),
            ("buy_now_purchased", "apply_tag", {"tag": "Bought now"}),
            ("buy_now_purchased", "email_owner", {}),
            ("buy_now_purchased", "start_sequence", {"sequence": welcome}),
        ):
            automation.trigger_action_create(actor=admin, event=event, action=action, **extra)
        timing = DisqualificationReason.objects.filter(archived_at__isnull=True).order_by("order")
        automation.trigger_action_create(
            actor=admin,
            event="lead_disqualified",
            action="start_sequence",
            sequence=nurture,
            reasons=list(timing[:2]),
        )
        for rep in reps:
            deal = (
                Opportunity.objects.filter(owner=rep, status="open", archived_at__isnull=True)
                .order_by("id")
                .first()
            )
            if deal is not None and not BuyNowLink.objects.filter(opportunity=deal).exists():
                buynow.buy_now_link_create(
                    actor=rep,
                    opportunity=deal,
                    product=f"{deal.name}: annual plan",
                    amount=deal.amount or Decimal(1000),
                )

    def _admin(self, row) -> tuple[User, bool]:
        username, password, _role, first, last = row
        user = User.objects.filter(username=username).first()
        if user:
            return user, False
        # Nobody can act yet: the first admin is a superuser, as ``createsuperuser`` makes one.
        user = User(username=username, first_name=first, last_name=last)
        user.email = f"{username}@crm-demo.example"
        validate_password(password, user)
        user = User.objects.create_superuser(
            username, user.email, password, first_name=first, last_name=last
        )
        services.event_record(
            actor=None,
            kind=EventKind.USER_CREATED,
            subject_user=user,
            data={"username": user.username, "role": user.role},
        )
        return user, True

    def _rep(self, admin: User, row) -> tuple[User, bool]:
        username, password, role, first, last = row
        user = User.objects.filter(username=username).first()
        if user:
            return user, False
        user = services.user_create(
            actor=admin,
            username=username,
            password=password,
            role=role,
            first_name=first,
            last_name=last,
            email=f"{username}@crm-demo.example",
        )
        return user, True

    def _opportunities(self, rep: User, contacts: list[Contact], rng: random.Random) -> int:
        """A deal per contact, spread over the pipeline: some won and lost, with their reasons."""
        from opportunities import services as deals
        from opportunities.models import LossReason, Opportunity, Stage, WinReason

        settings = deals.opportunity_settings_get()
        open_stages = list(
            Stage.objects.filter(archived_at__isnull=True)
            .exclude(pk__in=[settings.win_stage_id, settings.loss_stage_id])
            .order_by("order")
        )
        win_reasons = list(WinReason.objects.filter(archived_at__isnull=True))
        loss_reasons = list(LossReason.objects.filter(archived_at__isnull=True))
        count = 0
        for i, contact in enumerate(contacts):
            name = f"{contact.account.name if contact.account else contact.name} – {i + 1}"
            if Opportunity.objects.filter(name=name, owner=rep).exists():
                continue
            opp = deals.opportunity_create(
                actor=rep,
                name=name,
                contact=contact,
                owner=rep,
                amount=Decimal(rng.randrange(20, 400) * 250),
            )
            count += 1
            fate = i % 5
            if fate == 3 and settings.win_stage and win_reasons:
                deals.opportunity_move(
                    actor=rep,
                    opportunity=opp,
                    stage=settings.win_stage,
                    win_reason=rng.choice(win_reasons),
                )
            elif fate == 4 and settings.loss_stage and loss_reasons:
                deals.opportunity_move(
                    actor=rep,
                    opportunity=opp,
                    stage=rng.choice(open_stages[1:] or open_stages),
                )
                deals.opportunity_move(
                    actor=rep,
                    opportunity=opp,
                    stage=settings.loss_stage,
                    loss_reason=rng.choice(loss_reasons),
                )
            elif open_stages:
                stage = open_stages[i % len(open_stages)]
                if stage != opp.stage:
                    deals.opportunity_move(actor=rep, opportunity=opp, stage=stage)
        return count

    def _leads(self, rep: User, rng: random.Random) -> int:
        # Lead services come with the leads app; the rows are written directly, with their event.
        from leads.models import Lead

        count = 0
        for first, last, company, title, source, industry, country, size, status in LEADS[
            rep.username
        ]:
            domain = _ascii(company) + ".example"
            email = _email(first, last, domain)
            phone = PHONE_PREFIX[country] + "".join(str(rng.randrange(10)) for _ in range(8))
            if Lead.objects.filter(email__iexact=email).exists():
                continue
            lead = Lead.objects.create(
                first_name=first,
                last_name=last,
                company=company,
                title=title,
                email=email,
                phone=phone,
                source=source,
                industry=industry,
                country=country,
                company_size=size,
                status=status,
                owner=rep,
            )
            services.event_record(
                actor=rep, kind=EventKind.CREATED, lead=lead, data={"name": lead.name}
            )
            count += 1
        return count
