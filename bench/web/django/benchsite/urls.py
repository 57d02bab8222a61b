from django.urls import path

from benchapp import views

urlpatterns = [
    path("api/items", views.items),
]
