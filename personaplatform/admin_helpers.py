"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """For immutable records: viewable and searchable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """A history shown beside its parent: every field read-only, nothing added or removed."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def scoped_to_audience_owner(queryset, request: HttpRequest, audience_path: str):
    """Managers see everything; analysts see rows of the audiences they own."""
    if request.user.has_perm("audiences.view_all_audiences"):
        return queryset
    return queryset.filter(**{f"{audience_path}__owner": request.user})
