"""REST API of the shared core (API.md: conventions, users and roles, companies, contacts, tasks,
audit). Views parse, call one service or selector, and render."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from crm import access, ratelimit, selectors, services
from crm.api_fast import CachedFieldsRepresentationMixin
from crm.api_parsers import PARSER_CLASSES
from crm.filters import AccountFilter, ContactFilter, EventFilter, TaskFilter, UserFilter
from crm.models import Account, Contact, Event, Role, Task, Team, User

# --- permissions and fields ----------------------------------------------------------------------


def _id_field() -> serializers.IntegerField:
    """Ids are integers: ``2.5``, ``1e400`` or ``true`` are "not a valid integer", never coerced."""
    return serializers.IntegerField()


class AdminWritesOnly(permissions.BasePermission):
    """Everyone signed in may read; only admins may write (reps get 403)."""

    message = _("Only administrators can do this.")

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.is_admin(request.user)


class KeepCurrentMixin:
    """On update, the id the record already links to is accepted as is, even when it could not be
    picked anew (an account handed to someone else, an owner since deactivated): a client that
    PUTs back what it GOT must not fail on links it did not touch."""

    def to_internal_value(self, data):
        instance = getattr(self.parent, "instance", None)
        if instance is not None and data is not None and not isinstance(data, bool):
            current_id = getattr(instance, f"{self.source}_id", None)
            try:
                same = (
                    current_id is not None and self.pk_field.to_internal_value(data) == current_id
                )
            except serializers.ValidationError:
                same = False
            if same:
                return getattr(instance, self.source)
        return super().to_internal_value(data)


class VisibleRelatedField(KeepCurrentMixin, serializers.PrimaryKeyRelatedField):
    """A link by id to a record the requesting user may see; any other id is 'does not exist'."""

    def __init__(self, visible, **kwargs):
        self.visible = visible
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        kwargs.setdefault("pk_field", _id_field())
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.visible(self.context["request"].user)


def _visible_lead(user):
    return access.visible_leads(user)


def _visible_opportunity(user):
    return access.visible_opportunities(user)


class OwnerField(KeepCurrentMixin, serializers.PrimaryKeyRelatedField):
    default_error_messages = {
        "does_not_exist": _("Choose an active user as the owner."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("pk_field", _id_field())
        super().__init__(**kwargs)

    def get_queryset(self):
        return selectors.owner_choices()


# --- base viewset --------------------------------------------------------------------------------


class ServiceViewSet(viewsets.ModelViewSet):
    """CRUD where create/update/destroy go through services; destroy archives (204)."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    parser_classes = PARSER_CLASSES
    create_service = None
    update_service = None
    archive_service = None
    subject = None  # keyword under which the service takes the instance

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        kwargs = {self.subject: serializer.instance}
        serializer.instance = type(self).update_service(
            actor=self.request.user, **kwargs, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        type(self).archive_service(actor=self.request.user, **{self.subject: instance})


# --- auth ----------------------------------------------------------------------------------------


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenView(ObtainAuthToken):
    """``POST {"username", "password"}`` → ``{"token"}``. Throttled per client address."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = PARSER_CLASSES

    @extend_schema(responses=TokenResponseSerializer)
    def post(self, request, *args, **kwargs):
        username = request.data.get("username", "") if hasattr(request.data, "get") else ""
        if not isinstance(username, str):
            username = ""
        retry_after = ratelimit.login_refused(request, username)
        if retry_after is not None:
            return Response(
                {"detail": _("Too many sign-in attempts. Please wait a minute and try again.")},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(retry_after)},
            )
        return super().post(request, *args, **kwargs)


# --- users and teams -----------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "is_active",
            "time_zone",
        ]
        read_only_fields = ["id", "username"]


class UserCreateSerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.REP)

    class Meta:
        model = User
        fields = ["id", "username", "password", "first_name", "last_name", "email", "role"]
        read_only_fields = ["id"]


class UserViewSet(ServiceViewSet):
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    filterset_class = UserFilter
    create_service = services.user_create
    update_service = services.user_update
    archive_service = services.user_deactivate
    subject = "user"

    def get_queryset(self):
        return selectors.user_list(user=self.request.user)

    def get_serializer_class(self):
        return UserCreateSerializer if self.action == "create" else UserSerializer

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=UserSerializer)
    @action(detail=False, methods=["get"], permission_classes=[permissions.IsAuthenticated])
    def me(self, request):
        return Response(UserSerializer(request.user).data)


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, queryset=User.objects.all(), required=False, pk_field=_id_field()
    )

    class Meta:
        model = Team
        fields = ["id", "name", "members"]


class TeamViewSet(ServiceViewSet):
    """Teams are kept for history (events refer to them): no DELETE, remove members instead."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    serializer_class = TeamSerializer
    create_service = services.team_create
    update_service = services.team_update
    subject = "team"

    def get_queryset(self):
        return selectors.team_list(user=self.request.user)


# --- accounts ------------------------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    owner = OwnerField()

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "industry",
            "country",
            "company_size",
            "owner",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class AccountViewSet(ServiceViewSet):
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    create_service = services.account_create
    update_service = services.account_update
    archive_service = services.account_archive
    subject = "account"

    def get_queryset(self):
        return selectors.account_list(user=self.request.user)


# --- contacts ------------------------------------------------------------------------------------


class TagNamesField(serializers.ListField):
    child = serializers.CharField(max_length=50)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Errors of single items come keyed by index; the API promises {"tags": [messages]}.
            if isinstance(exc.detail, dict):
                messages = []
                for item_errors in exc.detail.values():
                    messages += [m for m in item_errors if m not in messages]
                raise serializers.ValidationError(messages) from exc
            raise

    def get_attribute(self, instance):
        # The API's list annotates the names (``selectors.contact_api_list``): no manager.
        names = getattr(instance, "tag_names", None)
        return names if names is not None else super().get_attribute(instance)

    def to_representation(self, data):
        if isinstance(data, list):
            return data
        return [t.name for t in data.all()]


class RatingIdField(serializers.PrimaryKeyRelatedField):
    """A rating by id; archived ratings are not offered (the service says so clearly)."""

    def __init__(self, **kwargs):
        from leads.models import Rating

        kwargs.setdefault("queryset", Rating.objects.all())
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        kwargs.setdefault("pk_field", serializers.IntegerField())
        super().__init__(**kwargs)


class ClassifySerializer(serializers.Serializer):
    rating = RatingIdField(required=True)


class ContactSerializer(CachedFieldsRepresentationMixin, serializers.ModelSerializer):
    owner = OwnerField()
    account = VisibleRelatedField(access.visible_accounts)
    tags = TagNamesField(required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "account",
            "owner",
            "tags",
            "rating",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "rating", "created_at", "updated_at"]


class ContactViewSet(ServiceViewSet):
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    create_service = services.contact_create
    update_service = services.contact_update
    archive_service = services.contact_archive
    subject = "contact"

    def get_queryset(self):
        if self.action == "list":
            return selectors.contact_api_list(user=self.request.user)
        return selectors.contact_list(user=self.request.user)

    @extend_schema(request=ClassifySerializer, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def classify(self, request, pk=None):
        """Classify the contact with a rating (null clears it); may schedule a follow-up."""
        from leads.services import prospect_classify

        contact = self.get_object()
        params = ClassifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        prospect_classify(
            actor=request.user, rating=params.validated_data["rating"], contact=contact
        )
        contact = self.get_queryset().get(pk=contact.pk)
        return Response(ContactSerializer(contact, context=self.get_serializer_context()).data)


# --- tasks ---------------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    owner = OwnerField()
    lead = VisibleRelatedField(_visible_lead)
    contact = VisibleRelatedField(access.visible_contacts)
    opportunity = VisibleRelatedField(_visible_opportunity)

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "kind",
            "due_on",
            "owner",
            "lead",
            "contact",
            "opportunity",
            "done",
            "completed_at",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "completed_at", "created_at", "updated_at"]


class TaskCompleteSerializer(serializers.Serializer):
    rating = RatingIdField()
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)


class TaskViewSet(ServiceViewSet):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    create_service = services.task_create
    archive_service = services.task_archive
    subject = "task"

    def get_queryset(self):
        return selectors.task_list(user=self.request.user)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        done = data.pop("done", False)
        task = services.task_create(actor=self.request.user, **data)
        if done:
            task = services.task_complete(actor=self.request.user, task=task)
        serializer.instance = task

    def perform_update(self, serializer):
        serializer.instance = services.task_edit(
            actor=self.request.user, task=serializer.instance, **serializer.validated_data
        )

    @extend_schema(request=TaskCompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = self.get_object()
        params = TaskCompleteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        from leads.services import task_complete_and_classify

        task = task_complete_and_classify(
            actor=request.user,
            task=task,
            rating=params.validated_data.get("rating"),
            note=params.validated_data["note"],
        )
        return Response(TaskSerializer(task, context=self.get_serializer_context()).data)


# --- events --------------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "id",
            "at",
            "actor",
            "kind",
            "account",
            "contact",
            "lead",
            "opportunity",
            "task",
            "data",
        ]


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = EventSerializer
    filterset_class = EventFilter

    def get_queryset(self):
        return selectors.event_list(user=self.request.user)
