from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteropConfig(AppConfig):
    name = "interop"
    verbose_name = _("Interoperability")

    def ready(self):
        from interop import schema  # noqa: F401 - registers the OpenAPI description of API keys
