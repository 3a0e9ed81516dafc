from django.urls import path

from reminders.patients import apis

urlpatterns = [
    path("devices/", apis.DeviceListApi.as_view(), name="devices"),
    path("devices/<uuid:device_id>/", apis.DeviceDetailApi.as_view(), name="devices-detail"),
    path("preferences/", apis.PreferenceApi.as_view(), name="preferences"),
]
