"""Application services: the pages, views and tables the routes and the CLI both make.

Nothing here imports FastAPI: the CLI renders a file with the same function the route serves,
and the routes (`api.routes`) only parse the request, call a service and wrap the answer.
"""
