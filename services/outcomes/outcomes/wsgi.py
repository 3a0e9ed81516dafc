from shared.wsgi import service_application

application = service_application("outcomes.settings")
