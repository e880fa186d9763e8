from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from audiences.models import Audience, PreferenceSnapshot

DEFAULT_AGE_GROUPS = ["15-19", "20-25", "26-35", "36-45", "46-59", "60+"]
DEFAULT_GENDERS = ["male", "female"]


# --- Prompts ------------------------------------------------------------------------------------


class PromptTemplate(models.Model):
    """A named family of prompts, e.g. ``audience-persona``; its versions are the real prompts."""

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("prompt template")
        verbose_name_plural = _("prompt templates")

    def __str__(self) -> str:
        return self.slug


class ResponseFormat(models.TextChoices):
    JSON_SCHEMA = "json_schema", _("JSON schema (structured output)")
    JSON = "json", _("Plain JSON, asked for in the prompt")


class OutputKeys(models.TextChoices):
    ZH = "zh", _("Chinese key names (proof of concept)")
    EN = "en", _("English key names (schema)")


class PromptVersion(models.Model):
    """One immutable prompt: texts, model parameters and the output it asks for.

    Versions are never edited (a database trigger refuses updates): a change is a new version,
    and labels such as ``production`` point at the version in use.
    """

    template = models.ForeignKey(
        PromptTemplate,
        verbose_name=_("template"),
        on_delete=models.CASCADE,
        related_name="versions",
    )
    number = models.PositiveIntegerField(_("version"))
    system_text = models.TextField(_("system message"))
    user_text = models.TextField(_("user message"))
    model = models.CharField(
        _("model"), max_length=100, blank=True, help_text=_("Empty: the backend's default model.")
    )
    temperature = models.FloatField(_("temperature"), default=0.0)
    params = models.JSONField(_("other parameters"), default=dict, blank=True)
    response_format = models.CharField(
        _("response format"), max_length=20, choices=ResponseFormat.choices
    )
    output_keys = models.CharField(
        _("output key names"), max_length=2, choices=OutputKeys.choices, default=OutputKeys.EN
    )
    output_schema = models.JSONField(_("output JSON schema"), null=True, blank=True)
    age_groups = models.JSONField(_("age groups"), default=list)
    genders = models.JSONField(_("genders"), default=list)
    max_items = models.PositiveIntegerField(
        _("apps in the prompt"), default=20, help_text=_("The top N apps of a snapshot are sent.")
    )
    changelog = models.TextField(_("changelog"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        verbose_name = _("prompt version")
        verbose_name_plural = _("prompt versions")
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="prompt_version_unique_number"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="prompt_version_positive"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0) & Q(temperature__lte=2),
                name="prompt_version_temperature_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.slug}@{self.number}"


class PromptLabel(models.Model):
    """A movable pointer such as ``production`` from a template to one of its versions."""

    template = models.ForeignKey(
        PromptTemplate, verbose_name=_("template"), on_delete=models.CASCADE, related_name="labels"
    )
    name = models.SlugField(_("label"), max_length=50)
    version = models.ForeignKey(
        PromptVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="labels"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["template", "name"]
        verbose_name = _("prompt label")
        verbose_name_plural = _("prompt labels")
        constraints = [
            models.UniqueConstraint(fields=["template", "name"], name="prompt_label_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.template.slug}:{self.name} → v{self.version.number}"


class PromptLabelMove(models.Model):
    """The record of one label move: a promotion or a rollback."""

    label = models.ForeignKey(
        PromptLabel, verbose_name=_("label"), on_delete=models.CASCADE, related_name="moves"
    )
    from_version = models.ForeignKey(
        PromptVersion,
        verbose_name=_("from version"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_version = models.ForeignKey(
        PromptVersion, verbose_name=_("to version"), on_delete=models.PROTECT, related_name="+"
    )
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    moved_at = models.DateTimeField(_("moved at"), auto_now_add=True)

    class Meta:
        ordering = ["-moved_at", "-pk"]
        verbose_name = _("prompt label move")
        verbose_name_plural = _("prompt label moves")

    def __str__(self) -> str:
        return f"{self.label.name}: {self.from_version_id} → {self.to_version_id}"


# --- Generation ---------------------------------------------------------------------------------


class GenerationRun(models.Model):
    """One request to generate personas for one or many audiences with one prompt version."""

    prompt_version = models.ForeignKey(
        PromptVersion,
        verbose_name=_("prompt version"),
        on_delete=models.PROTECT,
        related_name="runs",
    )
    backend = models.CharField(_("LLM backend"), max_length=50)
    samples = models.PositiveIntegerField(_("samples per audience"), default=1)
    force = models.BooleanField(_("bypass cache"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generation_runs",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("generation run")
        verbose_name_plural = _("generation runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(samples__gte=1) & Q(samples__lte=20), name="run_samples_range"
            )
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.prompt_version}, {self.backend})"


class GenerationStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class GenerationQuerySet(models.QuerySet):
    def finished(self) -> GenerationQuerySet:
        return self.filter(status__in=[GenerationStatus.SUCCEEDED, GenerationStatus.FAILED])


class Generation(models.Model):
    """One LLM job: one snapshot through one prompt version, one sample.

    Everything needed to understand the result is kept: the messages sent, the raw answer, what
    the parser repaired, and why it failed if it did.
    """

    run = models.ForeignKey(
        GenerationRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="generations"
    )
    snapshot = models.ForeignKey(
        PreferenceSnapshot,
        verbose_name=_("snapshot"),
        on_delete=models.PROTECT,
        related_name="generations",
    )
    prompt_version = models.ForeignKey(
        PromptVersion,
        verbose_name=_("prompt version"),
        on_delete=models.PROTECT,
        related_name="generations",
    )
    sample_index = models.PositiveIntegerField(_("sample"), default=0)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=GenerationStatus.choices,
        default=GenerationStatus.QUEUED,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    cache_key = models.CharField(_("cache key"), max_length=64, db_index=True)
    cached_from = models.ForeignKey(
        "self",
        verbose_name=_("reused result of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cache_hits",
    )
    backend = models.CharField(_("backend"), max_length=50)
    model = models.CharField(_("model"), max_length=100, blank=True)
    rendered_messages = models.JSONField(_("messages sent"), default=list, blank=True)
    raw_response = models.TextField(_("raw response"), blank=True)
    parsed_output = models.JSONField(_("parsed output"), null=True, blank=True)
    repairs = models.JSONField(_("repairs applied"), default=list, blank=True)
    error_code = models.CharField(_("error code"), max_length=50, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    cost_usd = models.DecimalField(_("cost (USD)"), max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("generation")
        verbose_name_plural = _("generations")
        indexes = [models.Index(fields=["status", "started_at"], name="generation_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "snapshot", "sample_index"], name="generation_unique_in_run"
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_code=""),
                name="generation_failure_has_code",
            ),
        ]

    def __str__(self) -> str:
        return f"Generation {self.pk} ({self.snapshot.audience.key}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (GenerationStatus.SUCCEEDED, GenerationStatus.FAILED)


# --- Personas -----------------------------------------------------------------------------------


class PersonaStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")
    REJECTED = "rejected", _("Rejected")
    ARCHIVED = "archived", _("Archived")


EDITABLE_STATUSES = (PersonaStatus.DRAFT, PersonaStatus.CHANGES_REQUESTED)


class PersonaQuerySet(models.QuerySet):
    def published(self) -> PersonaQuerySet:
        return self.filter(status=PersonaStatus.PUBLISHED)

    def visible_to(self, user) -> PersonaQuerySet:
        """Published personas, plus every persona of the audiences the user may see."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.has_perm("audiences.view_all_audiences"):
            return self
        return self.filter(Q(status=PersonaStatus.PUBLISHED) | Q(audience__owner=user))

    def with_document_relations(self) -> PersonaQuerySet:
        """Everything a persona document needs, in a fixed number of queries."""
        return self.select_related(
            "audience", "snapshot", "prompt_version__template", "origin_generation"
        ).prefetch_related(
            models.Prefetch("tag_links", queryset=PersonaTag.objects.select_related("tag"))
        )


class Persona(models.Model):
    """The reviewable result of a generation: a profile an analyst edits and a manager publishes.

    ``revision`` counts content edits and is the optimistic lock: an edit names the revision it
    started from and is refused if someone saved in between. Every revision's content is kept in
    :class:`PersonaRevision`.
    """

    audience = models.ForeignKey(
        Audience, verbose_name=_("audience"), on_delete=models.CASCADE, related_name="personas"
    )
    origin_generation = models.OneToOneField(
        Generation,
        verbose_name=_("origin generation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="persona",
    )
    snapshot = models.ForeignKey(
        PreferenceSnapshot,
        verbose_name=_("snapshot"),
        on_delete=models.PROTECT,
        related_name="personas",
    )
    prompt_version = models.ForeignKey(
        PromptVersion,
        verbose_name=_("prompt version"),
        on_delete=models.PROTECT,
        related_name="personas",
    )
    backend = models.CharField(_("written by backend"), max_length=50)
    model = models.CharField(_("model"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=PersonaStatus.choices, default=PersonaStatus.DRAFT
    )
    summary = models.TextField(_("summary"), blank=True)
    basic_attributes = models.TextField(_("基本屬性 basic attributes"))
    personality = models.TextField(_("個性 personality"))
    mental_state = models.TextField(_("心理狀態 mental state"))
    interests = models.TextField(_("個人興趣 interests"))
    lifestyle = models.TextField(_("生活方式 lifestyle"))
    hashtags_zh = models.JSONField(_("hashtags (Chinese)"), default=list)
    hashtags_en = models.JSONField(_("hashtags (English)"), default=list)
    age_groups = models.JSONField(_("age-group distribution"), default=dict)
    gender = models.JSONField(_("gender distribution"), default=dict)
    revision = models.PositiveIntegerField(_("revision"), default=1)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    # Materialised when published: the API serves this stored JSON as it is.
    published_document = models.JSONField(_("published document"), null=True, blank=True)
    tags = models.ManyToManyField(
        "Tag", verbose_name=_("tags"), through="PersonaTag", related_name="personas"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PersonaQuerySet.as_manager()

    class Meta:
        ordering = ["audience", "-created_at", "-pk"]
        verbose_name = _("persona")
        verbose_name_plural = _("personas")
        constraints = [
            models.UniqueConstraint(
                fields=["audience"],
                condition=Q(status="published"),
                name="one_published_persona_per_audience",
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="published_persona_has_date",
            ),
            models.CheckConstraint(condition=Q(revision__gte=1), name="persona_revision_positive"),
        ]
        permissions = [
            ("review_persona", _("Can approve, request changes to and reject personas")),
            ("publish_persona", _("Can publish and unpublish personas")),
        ]

    def __str__(self) -> str:
        return f"Persona {self.pk} for {self.audience.key} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class PersonaRevision(models.Model):
    """The content of a persona at one revision: its full edit history."""

    persona = models.ForeignKey(
        Persona, verbose_name=_("persona"), on_delete=models.CASCADE, related_name="revisions"
    )
    number = models.PositiveIntegerField(_("revision"))
    content = models.JSONField(_("content"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["persona", "-number"]
        verbose_name = _("persona revision")
        verbose_name_plural = _("persona revisions")
        constraints = [
            models.UniqueConstraint(fields=["persona", "number"], name="revision_unique_number")
        ]

    def __str__(self) -> str:
        return f"Persona {self.persona_id} r{self.number}"


class TagCategory(models.TextChoices):
    BASIC_ATTRIBUTES = "basic_attributes", _("基本屬性 basic attributes")
    PERSONALITY = "personality", _("個性 personality")
    MENTAL_STATE = "mental_state", _("心理狀態 mental state")
    INTERESTS = "interests", _("個人興趣 interests")
    LIFESTYLE = "lifestyle", _("生活方式 lifestyle")
    HASHTAG = "hashtag", _("Hashtag")


class Tag(models.Model):
    """A term of the controlled vocabulary, in one of the profile categories or a hashtag."""

    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=20, choices=TagCategory.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["category", "name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.UniqueConstraint(fields=["category", "name"], name="tag_unique_in_category")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.category})"


class TagSource(models.TextChoices):
    LLM = "llm", _("Extracted from the LLM's draft")
    ANALYST = "analyst", _("Added by an analyst")


class PersonaTag(models.Model):
    """One tag on one persona, with where it came from."""

    persona = models.ForeignKey(
        Persona, verbose_name=_("persona"), on_delete=models.CASCADE, related_name="tag_links"
    )
    tag = models.ForeignKey(
        Tag, verbose_name=_("tag"), on_delete=models.CASCADE, related_name="persona_links"
    )
    source = models.CharField(_("source"), max_length=10, choices=TagSource.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["persona", "tag__category", "tag__name"]
        verbose_name = _("persona tag")
        verbose_name_plural = _("persona tags")
        constraints = [
            models.UniqueConstraint(fields=["persona", "tag"], name="persona_tag_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tag} on persona {self.persona_id}"


class ReviewAction(models.TextChoices):
    CREATE = "create", _("Created")
    EDIT = "edit", _("Edited")
    SUBMIT = "submit", _("Submitted for review")
    APPROVE = "approve", _("Approved")
    REQUEST_CHANGES = "request_changes", _("Changes requested")
    REJECT = "reject", _("Rejected")
    PUBLISH = "publish", _("Published")
    UNPUBLISH = "unpublish", _("Unpublished")
    SUPERSEDE = "supersede", _("Superseded by a newer publish")
    COMMENT = "comment", _("Commented")


class ReviewEvent(models.Model):
    """The audit trail of a persona: who did what, from which status to which, and why."""

    persona = models.ForeignKey(
        Persona, verbose_name=_("persona"), on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=20, choices=ReviewAction.choices)
    from_status = models.CharField(
        _("from status"), max_length=20, choices=PersonaStatus.choices, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=20, choices=PersonaStatus.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["persona", "created_at", "pk"]
        verbose_name = _("review event")
        verbose_name_plural = _("review events")

    def __str__(self) -> str:
        return f"{self.action} on persona {self.persona_id}"
