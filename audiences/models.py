from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# Caps on free text that ends up inside prompts and pages. A hostile or broken feed cannot make a
# prompt arbitrarily long through one field.
APP_NAME_MAX_LENGTH = 200
APP_DESCRIPTION_MAX_LENGTH = 300


class AppCategory(models.TextChoices):
    """The catalog's app categories; the offline backend and the tag vocabulary key off them."""

    MUSIC = "music", _("Music & audio")
    VIDEO = "video", _("Video & streaming")
    SOCIAL = "social", _("Social networks")
    MESSAGING = "messaging", _("Messaging")
    GAMES = "games", _("Games")
    FINANCE = "finance", _("Finance & banking")
    SHOPPING = "shopping", _("Shopping")
    FOOD = "food", _("Food & delivery")
    TRAVEL = "travel", _("Travel")
    TRANSPORT = "transport", _("Transport & navigation")
    NEWS = "news", _("News & magazines")
    PRODUCTIVITY = "productivity", _("Productivity & business")
    EDUCATION = "education", _("Education")
    HEALTH = "health", _("Health & fitness")
    PHOTO = "photo", _("Photo & beauty")
    LIFESTYLE = "lifestyle", _("Lifestyle")
    PARENTING = "parenting", _("Parenting & family")
    DATING = "dating", _("Dating")
    SPORTS = "sports", _("Sports")
    BOOKS = "books", _("Books & comics")
    TOOLS = "tools", _("Tools & utilities")
    OTHER = "other", _("Other")


class App(models.Model):
    """An app in the catalog. Prompts are grounded in it: the LLM is told what each app is."""

    name = models.CharField(_("name"), max_length=APP_NAME_MAX_LENGTH, unique=True)
    store_id = models.CharField(_("store id"), max_length=200, blank=True)
    category = models.CharField(
        _("category"), max_length=20, choices=AppCategory.choices, default=AppCategory.OTHER
    )
    description_zh = models.CharField(
        _("description (Chinese)"), max_length=APP_DESCRIPTION_MAX_LENGTH, blank=True
    )
    description_en = models.CharField(
        _("description (English)"), max_length=APP_DESCRIPTION_MAX_LENGTH, blank=True
    )
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("app")
        verbose_name_plural = _("apps")

    def __str__(self) -> str:
        return self.name


class AudienceQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AudienceQuerySet":
        """Managers (and admins) see every audience; analysts see the ones they own."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.has_perm("audiences.view_all_audiences"):
            return self
        return self.filter(owner=user)


class Audience(models.Model):
    """A segment of users, usually "people who installed app X"."""

    key = models.SlugField(_("key"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    seed_app = models.ForeignKey(
        App,
        verbose_name=_("seed app"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="seeded_audiences",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audiences",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AudienceQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")
        permissions = [("view_all_audiences", _("Can see every audience, not only their own"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def get_absolute_url(self) -> str:
        return reverse("admin:audiences_audience_change", args=[self.pk])


class SnapshotSource(models.TextChoices):
    BIGQUERY = "bigquery", _("BigQuery")
    FILE = "file", _("File import")
    API = "api", _("API")


class PreferenceSnapshotQuerySet(models.QuerySet):
    def latest_per_audience(self) -> "PreferenceSnapshotQuerySet":
        """The newest snapshot of each audience (by as-of date, then creation)."""
        newest = (
            PreferenceSnapshot.objects.filter(audience=models.OuterRef("audience"))
            .order_by("-taken_at", "-created_at", "-pk")
            .values("pk")[:1]
        )
        return self.filter(pk=models.Subquery(newest))


class PreferenceSnapshot(models.Model):
    """An immutable, time-stamped list of the apps one audience prefers.

    The content hash covers the normalised items only, so the same list pulled twice is stored
    once, and a changed list (drift) gets a new snapshot. It is also the generation cache key's
    main ingredient. Rows are never updated: a database trigger refuses it.
    """

    audience = models.ForeignKey(
        Audience, verbose_name=_("audience"), on_delete=models.CASCADE, related_name="snapshots"
    )
    taken_at = models.DateField(_("as of"))
    source = models.CharField(_("source"), max_length=20, choices=SnapshotSource.choices)
    source_ref = models.CharField(_("source reference"), max_length=500, blank=True)
    audience_size = models.PositiveIntegerField(_("audience size"), null=True, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    item_count = models.PositiveIntegerField(_("items"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PreferenceSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["audience", "-taken_at", "-created_at"]
        get_latest_by = ["taken_at", "created_at"]
        verbose_name = _("preference snapshot")
        verbose_name_plural = _("preference snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "content_hash"], name="snapshot_unique_content_per_audience"
            ),
            models.CheckConstraint(condition=Q(item_count__gt=0), name="snapshot_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.audience.key} @ {self.taken_at:%Y-%m-%d} ({self.content_hash[:8]})"


class PreferenceItem(models.Model):
    """One row of a snapshot: an app the audience prefers, its rank, lift and share."""

    snapshot = models.ForeignKey(
        PreferenceSnapshot,
        verbose_name=_("snapshot"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    app = models.ForeignKey(
        App, verbose_name=_("app"), on_delete=models.PROTECT, related_name="preference_items"
    )
    rank = models.PositiveIntegerField(_("rank"))
    score = models.FloatField(_("affinity score (lift)"))
    share = models.FloatField(_("share of audience"))

    class Meta:
        ordering = ["snapshot", "rank"]
        verbose_name = _("preference item")
        verbose_name_plural = _("preference items")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "rank"], name="item_unique_rank"),
            models.UniqueConstraint(fields=["snapshot", "app"], name="item_unique_app"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="item_rank_positive"),
            models.CheckConstraint(condition=Q(score__gte=0), name="item_score_non_negative"),
            models.CheckConstraint(
                condition=Q(share__gte=0) & Q(share__lte=1), name="item_share_is_fraction"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.app.name}"
