from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from monolith.users.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["id", "username", "email", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["username", "email"]
    ordering = ["id"]
    # Raised by every change of password, active or staff state: tokens below it are refused.
    readonly_fields = ["token_version"]
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("Tokens", {"fields": ("token_version",)}))
