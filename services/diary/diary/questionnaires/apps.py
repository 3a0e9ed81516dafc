from django.apps import AppConfig


class QuestionnairesConfig(AppConfig):
    name = "diary.questionnaires"
    label = "questionnaires"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Questionnaires"
