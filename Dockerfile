# cms-reconciler as a container image, for runners that prefer one: `docker run IMAGE ARGS`
# runs `reconcile ARGS` (docs/release.md). Built from this checkout, with BuildKit (Docker's
# default builder since 23.0):
#   docker build --tag cms-reconciler .
# What goes in is what the runners install (.github/scripts/install-reconcile.sh): the
# dependencies of .github/requirements.txt, every file hash-checked, and the wheel built here
# from the checkout with the hash-locked build tools of .github/release-requirements.txt.
# Nothing secret goes in: the build context holds only what the build reads (.dockerignore),
# the image gets only the installed packages, and passwords and keys reach `reconcile` when
# it runs, as environment variables, as on a runner.
# tests/workflows/test_dockerfile.py checks these rules on this file; `make image-test` (and
# test.yml's image job) builds the image and runs `reconcile --version` and `reconcile demo`.

# Both stages start from the same base, pinned by digest: a tag can be pushed again, a digest
# names one image for good. Move the version and the digest together.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY .github/release-requirements.txt /tmp/release-requirements.txt
RUN python -m pip install --require-hashes --no-deps -r /tmp/release-requirements.txt
COPY pyproject.toml setup.py README.md LICENSE MANIFEST.in ./
COPY reconciler ./reconciler
# The wheel's build copies .github/ in as `reconcile init`'s templates (setup.py).
COPY .github ./.github
# --no-isolation: setuptools is the hash-checked one above, not one fetched for the build.
RUN python -m build --no-isolation --wheel --outdir /wheel .

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
ENV PATH=/opt/cms-reconciler/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# git: reconcile reads the desired state from a git working tree (GitPython runs git). From
# Debian's signed archive, at the version the pinned base's release carries.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
# The lock and the wheel are mounted for this step, not copied: the image keeps what they
# install, not them. --no-deps: the lock is complete (pip check proves it), so pip resolves
# nothing from an index and installs only hash-checked files and the wheel built above.
RUN --mount=type=bind,source=.github/requirements.txt,target=/tmp/requirements.txt \
    --mount=type=bind,from=build,source=/wheel,target=/tmp/wheel \
    python -m venv /opt/cms-reconciler \
    && /opt/cms-reconciler/bin/pip install --require-hashes --no-deps -r /tmp/requirements.txt \
    && /opt/cms-reconciler/bin/pip install --no-deps --no-index /tmp/wheel/cms_reconciler-*.whl \
    && /opt/cms-reconciler/bin/pip check \
    && useradd --create-home --uid 10001 --user-group reconcile
# By number, so that a runtime checking runAsNonRoot (Kubernetes) can tell it is not root.
USER 10001:10001
WORKDIR /home/reconcile
ENTRYPOINT ["reconcile"]
CMD ["--help"]
