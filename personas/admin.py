from django.contrib import admin
from django.http import HttpRequest

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """For immutable records: viewable and searchable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PromptVersionInline(admin.TabularInline):
    model = PromptVersion
    fields = ["number", "model", "temperature", "response_format", "changelog", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PromptLabelInline(admin.TabularInline):
    model = PromptLabel
    fields = ["name", "version", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [PromptLabelInline, PromptVersionInline]


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "model", "temperature", "response_format", "author", "created_at"]
    list_filter = ["template", "response_format"]
    search_fields = ["template__slug", "changelog", "system_text", "user_text"]


@admin.register(PromptLabelMove)
class PromptLabelMoveAdmin(ReadOnlyAdmin):
    list_display = ["label", "from_version", "to_version", "moved_by", "moved_at"]
    list_filter = ["label__template", "label__name"]
    list_select_related = ["label__template", "from_version", "to_version", "moved_by"]


class GenerationInline(admin.TabularInline):
    model = Generation
    fields = ["snapshot", "sample_index", "status", "error_code", "cost_usd", "latency_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
        qs = super().get_queryset(request)
        if request.user.has_perm("audiences.view_all_audiences"):
            return qs
        return qs.filter(snapshot__audience__owner=request.user)

    @admin.display(description="audience", ordering="snapshot__audience__key")
    def audience_key(self, obj: Generation) -> str:
        return obj.snapshot.audience.key


class PersonaTagInline(admin.TabularInline):
    model = PersonaTag
    fields = ["tag", "source", "added_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PersonaRevisionInline(admin.TabularInline):
    model = PersonaRevision
    fields = ["number", "author", "note", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReviewEventInline(admin.TabularInline):
    model = ReviewEvent
    fields = ["created_at", "actor", "action", "from_status", "to_status", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
        qs = super().get_queryset(request)
        if request.user.has_perm("audiences.view_all_audiences"):
            return qs
        return qs.filter(persona__audience__owner=request.user)
