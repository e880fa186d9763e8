from django.contrib import admin, messages
from django.http import HttpRequest

from personaplatform.admin_helpers import ReadOnlyAdmin, ReadOnlyInline, scoped_to_audience_owner
from personaplatform.errors import ApplicationError

from .models import App, Audience, PreferenceItem, PreferenceSnapshot


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "store_id", "description_en"]
    list_filter = ["category"]
    search_fields = ["name", "store_id", "description_zh", "description_en"]


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "seed_app", "owner", "created_at"]
    list_filter = ["seed_app__category"]
    search_fields = ["key", "name", "description"]
    autocomplete_fields = ["seed_app"]
    raw_id_fields = ["owner"]
    actions = ["draft_personas"]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .select_related("seed_app", "owner")
            .visible_to(request.user)
        )

    def has_generate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("personas.add_generationrun")

    @admin.action(
        description="Draft personas (production prompt, configured backend)",
        permissions=["generate"],
    )
    def draft_personas(self, request: HttpRequest, queryset) -> None:
        # Imported here: the personas app builds on this one, not the other way round.
        from personas.prompts import prompt_version_resolve
        from personas.services import generation_run_create

        try:
            plan = generation_run_create(
                audiences=queryset,
                prompt_version=prompt_version_resolve(),
                created_by=request.user,
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"Run {plan.run.pk}: {len(plan.generations)} generation(s) queued on "
            f"{plan.run.backend!r}; cached results are reused.",
            messages.SUCCESS,
        )
        if plan.skipped:
            self.message_user(
                request, "No snapshot yet, skipped: " + ", ".join(plan.skipped), messages.WARNING
            )


class PreferenceItemInline(ReadOnlyInline):
    model = PreferenceItem
    fields = ["rank", "app", "score", "share"]
    ordering = ["rank"]


@admin.register(PreferenceSnapshot)
class PreferenceSnapshotAdmin(ReadOnlyAdmin):
    """Snapshots are immutable: they arrive through imports and BigQuery, and are only read here."""

    list_display = ["audience", "taken_at", "source", "item_count", "audience_size", "short_hash"]
    list_filter = ["source", "taken_at"]
    search_fields = ["audience__key", "audience__name", "source_ref", "content_hash"]
    date_hierarchy = "taken_at"
    inlines = [PreferenceItemInline]
    readonly_fields = [
        "audience",
        "taken_at",
        "source",
        "source_ref",
        "audience_size",
        "content_hash",
        "item_count",
        "created_by",
        "created_at",
    ]

    def get_queryset(self, request: HttpRequest):
        return scoped_to_audience_owner(
            super().get_queryset(request).select_related("audience"), request, "audience"
        )

    @admin.display(description="hash")
    def short_hash(self, obj: PreferenceSnapshot) -> str:
        return obj.content_hash[:12]
