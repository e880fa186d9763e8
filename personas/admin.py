from django.contrib import admin, messages
from django.http import HttpRequest

from personaplatform.admin_helpers import ReadOnlyAdmin, ReadOnlyInline, scoped_to_audience_owner
from personaplatform.errors import ApplicationError

from .models import (
    Generation,
    GenerationRun,
    Persona,
    PersonaRevision,
    PersonaTag,
    PromptLabel,
    PromptLabelMove,
    PromptTemplate,
    PromptVersion,
    ReviewEvent,
    Tag,
)
from .services import prompt_label_move


class PromptVersionInline(ReadOnlyInline):
    model = PromptVersion
    fields = ["number", "model", "temperature", "response_format", "changelog", "created_at"]
    show_change_link = True


class PromptLabelInline(ReadOnlyInline):
    model = PromptLabel
    fields = ["name", "version", "updated_at"]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [PromptLabelInline, PromptVersionInline]


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "labels_here",
        "model",
        "temperature",
        "response_format",
        "author",
        "created_at",
    ]
    list_filter = ["template", "response_format"]
    search_fields = ["template__slug", "changelog", "system_text", "user_text"]
    list_select_related = ["template", "author"]
    actions = ["promote_to_production", "promote_to_staging"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("labels")

    @admin.display(description="labels")
    def labels_here(self, obj: PromptVersion) -> str:
        return ", ".join(label.name for label in obj.labels.all())

    def has_promote_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("personas.change_promptlabel")

    def _promote(self, request: HttpRequest, queryset, label: str) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version to promote.", messages.ERROR)
            return
        version = queryset.get()
        try:
            prompt_label_move(
                version=version, label=label, moved_by=request.user, note="Moved in the admin."
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{version.template.slug}:{label} now points at {version}.")

    @admin.action(description="Point the production label at this version", permissions=["promote"])
    def promote_to_production(self, request: HttpRequest, queryset) -> None:
        self._promote(request, queryset, "production")

    @admin.action(description="Point the staging label at this version", permissions=["promote"])
    def promote_to_staging(self, request: HttpRequest, queryset) -> None:
        self._promote(request, queryset, "staging")


@admin.register(PromptLabel)
class PromptLabelAdmin(ReadOnlyAdmin):
    """Labels move only through the promote actions, so that every move is recorded."""

    list_display = ["template", "name", "version", "updated_at"]
    list_filter = ["template", "name"]
    list_select_related = ["template", "version__template"]


@admin.register(PromptLabelMove)
class PromptLabelMoveAdmin(ReadOnlyAdmin):
    list_display = ["label", "from_version", "to_version", "moved_by", "moved_at"]
    list_filter = ["label__template", "label__name"]
    list_select_related = ["label__template", "from_version", "to_version", "moved_by"]


class GenerationInline(ReadOnlyInline):
    model = Generation
    fields = ["snapshot", "sample_index", "status", "error_code", "cost_usd", "latency_ms"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(
            super().get_queryset(request).select_related("snapshot__audience"),
            request,
            "snapshot__audience",
        )


@admin.register(GenerationRun)
class GenerationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "prompt_version",
        "backend",
        "samples",
        "force",
        "created_by",
        "created_at",
    ]
    list_filter = ["backend", "prompt_version"]
    list_select_related = ["prompt_version__template", "created_by"]
    inlines = [GenerationInline]

    def get_queryset(self, request: HttpRequest):
        # A run is visible to whoever may see one of its audiences.
        runs = super().get_queryset(request)
        scoped = scoped_to_audience_owner(runs, request, "generations__snapshot__audience")
        return runs if scoped is runs else runs.filter(pk__in=scoped.values("pk"))


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "audience_key",
        "prompt_version",
        "sample_index",
        "status",
        "backend",
        "model",
        "error_code",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "created_at",
    ]
    list_filter = ["status", "backend", "error_code", "prompt_version"]
    search_fields = ["snapshot__audience__key", "error_message", "cache_key"]
    list_select_related = ["snapshot__audience", "prompt_version__template"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(
            super().get_queryset(request), request, "snapshot__audience"
        )

    @admin.display(description="audience", ordering="snapshot__audience__key")
    def audience_key(self, obj: Generation) -> str:
        return obj.snapshot.audience.key


class PersonaTagInline(ReadOnlyInline):
    model = PersonaTag
    fields = ["tag", "source", "added_by", "created_at"]


class PersonaRevisionInline(ReadOnlyInline):
    model = PersonaRevision
    fields = ["number", "author", "note", "created_at"]


class ReviewEventInline(ReadOnlyInline):
    model = ReviewEvent
    fields = ["created_at", "actor", "action", "from_status", "to_status", "comment"]


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    """Read-mostly until the review app lands: status and content change through services."""

    list_display = [
        "pk",
        "audience",
        "status",
        "prompt_version",
        "backend",
        "model",
        "revision",
        "created_at",
    ]
    list_filter = ["status", "backend", "prompt_version"]
    search_fields = ["audience__key", "audience__name", "summary", "interests", "lifestyle"]
    list_select_related = ["audience", "prompt_version__template"]
    readonly_fields = [
        "audience",
        "origin_generation",
        "snapshot",
        "prompt_version",
        "backend",
        "model",
        "status",
        "summary",
        "basic_attributes",
        "personality",
        "mental_state",
        "interests",
        "lifestyle",
        "hashtags_zh",
        "hashtags_en",
        "age_groups",
        "gender",
        "revision",
        "published_at",
        "published_document",
        "created_at",
        "updated_at",
    ]
    inlines = [PersonaTagInline, PersonaRevisionInline, ReviewEventInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PersonaRevision)
class PersonaRevisionAdmin(ReadOnlyAdmin):
    list_display = ["persona", "number", "author", "note", "created_at"]
    list_select_related = ["persona__audience", "author"]
    search_fields = ["persona__audience__key", "note"]

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(super().get_queryset(request), request, "persona__audience")


@admin.register(PersonaTag)
class PersonaTagAdmin(ReadOnlyAdmin):
    list_display = ["tag", "persona", "source", "added_by", "created_at"]
    list_filter = ["source", "tag__category"]
    list_select_related = ["tag", "persona__audience", "added_by"]
    search_fields = ["tag__name", "persona__audience__key"]

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(super().get_queryset(request), request, "persona__audience")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "created_at"]
    list_filter = ["category"]
    search_fields = ["name"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdmin):
    list_display = ["persona", "action", "from_status", "to_status", "actor", "created_at"]
    list_filter = ["action", "to_status"]
    list_select_related = ["persona__audience", "actor"]

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(super().get_queryset(request), request, "persona__audience")
