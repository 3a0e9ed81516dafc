from shared.celeryapp import create_celery_app

app = create_celery_app("sharedtest")
