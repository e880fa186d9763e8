from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudiencesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audiences"
    verbose_name = _("Audiences")
