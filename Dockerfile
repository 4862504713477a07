# One image for every process of the deployment (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY carve carve
COPY servicekit servicekit
COPY contracts contracts
COPY messaging messaging
COPY routetable routetable
COPY monolith monolith
COPY extracted extracted
COPY proxy proxy
COPY analyzer analyzer
COPY manage.py ./
COPY docker docker
RUN pip install .
