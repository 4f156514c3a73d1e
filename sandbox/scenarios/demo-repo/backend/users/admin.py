from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("email", "full_name", "company_name", "is_email_verified", "is_staff")
    search_fields = ("email", "full_name", "company_name")
    ordering = ("email",)
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Profile", {"fields": ("full_name", "company_name", "is_email_verified")}),
    )
