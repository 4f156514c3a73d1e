# Settings are split per environment; pick one with DJANGO_SETTINGS_MODULE:
#   license_platform.settings.development  (manage.py's default, local work and CI)
#   license_platform.settings.production   (staging and production clusters)
