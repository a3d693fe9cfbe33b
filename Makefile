# placerisk: two commands from a fresh clone.
#   make demo   build a synthetic demo database and serve the map on http://127.0.0.1:8000
#   make test   check the system libraries, install the dev extras and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DEMO_DB ?= demo.db
HOST   ?= 127.0.0.1
PORT   ?= 8000

H3JS_VERSION ?= 4.5.0
H3JS := vendor/h3-js/h3-js.umd.js
MARKERCLUSTER_VERSION ?= 1.5.3
MARKERCLUSTER := vendor/leaflet.markercluster/leaflet.markercluster.js
SWAGGER_VERSION ?= 5.35.0
SWAGGER := vendor/swagger-ui/swagger-ui-bundle.js
PMTILES_VERSION ?= 4.5.0
PMTILES := vendor/pmtiles/pmtiles.js

.PHONY: install check-system check-libraries demo test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# h3-js draws the map's hexagons in the browser; it comes from the npm registry. Without
# npm the maps fall back to (larger) GeoJSON hexagons.
$(H3JS):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p vendor/h3-js && tmp=$$(mktemp -d) && \
		(cd $$tmp && npm pack --silent h3-js@$(H3JS_VERSION) >/dev/null && \
		 tar -xzf h3-js-$(H3JS_VERSION).tgz package/dist/h3-js.umd.js package/LICENSE) && \
		cp $$tmp/package/dist/h3-js.umd.js $$tmp/package/LICENSE vendor/h3-js/ && \
		rm -rf $$tmp; \
	else echo "npm not found: maps will draw hexagons as GeoJSON (bigger pages)"; fi

# leaflet.markercluster groups dense places into clusters; without it places are not grouped.
$(MARKERCLUSTER):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p vendor/leaflet.markercluster && tmp=$$(mktemp -d) && \
		(cd $$tmp && npm pack --silent leaflet.markercluster@$(MARKERCLUSTER_VERSION) >/dev/null && \
		 tar -xzf leaflet.markercluster-$(MARKERCLUSTER_VERSION).tgz package/dist/leaflet.markercluster.js \
		   package/dist/MarkerCluster.css package/MIT-LICENCE.txt) && \
		cp $$tmp/package/dist/leaflet.markercluster.js $$tmp/package/dist/MarkerCluster.css \
		   $$tmp/package/MIT-LICENCE.txt vendor/leaflet.markercluster/ && \
		rm -rf $$tmp; \
	else echo "npm not found: places will not be grouped into clusters"; fi

# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes) for /docs; without it, the older copy
# from the swagger-ui-bundle PyPI package is served.
$(SWAGGER):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p vendor/swagger-ui && tmp=$$(mktemp -d) && \
		(cd $$tmp && npm pack --silent swagger-ui-dist@$(SWAGGER_VERSION) >/dev/null && \
		 tar -xzf swagger-ui-dist-$(SWAGGER_VERSION).tgz package/swagger-ui-bundle.js \
		   package/swagger-ui.css package/LICENSE) && \
		cp $$tmp/package/swagger-ui-bundle.js $$tmp/package/swagger-ui.css \
		   $$tmp/package/LICENSE vendor/swagger-ui/ && \
		rm -rf $$tmp; \
	else echo "npm not found: /docs uses Swagger UI 4 from PyPI"; fi

# pmtiles draws a base map from a local PMTiles file served by the app (PLACERISK_PMTILES);
# without it only tile servers or no base map. Its package.json states the BSD-3-Clause licence.
$(PMTILES):
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p vendor/pmtiles && tmp=$$(mktemp -d) && \
		(cd $$tmp && npm pack --silent pmtiles@$(PMTILES_VERSION) >/dev/null && \
		 tar -xzf pmtiles-$(PMTILES_VERSION).tgz package/dist/pmtiles.js package/package.json) && \
		cp $$tmp/package/dist/pmtiles.js $$tmp/package/package.json vendor/pmtiles/ && \
		rm -rf $$tmp; \
	else echo "npm not found: no base map from a PMTiles file (PLACERISK_PMTILES)"; fi

install: $(VENV)/.installed $(H3JS) $(MARKERCLUSTER) $(SWAGGER) $(PMTILES)

demo: check-libraries install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/placerisk --db $(DEMO_DB) demo-data
	$(BIN)/placerisk --db $(DEMO_DB) score
	@echo "placerisk demo: open http://$(HOST):$(PORT)/  (synthetic data; Ctrl-C to stop)"
	$(BIN)/placerisk --db $(DEMO_DB) serve --host $(HOST) --port $(PORT)

# weasyprint (PDFs) needs Pango, HarfBuzz's subset library, fontconfig and a font from the
# system, the browser tests Chromium: say what to apt-get install before anything else runs.
check-system:
	@$(PYTHON) tools/check_system.py --browser

# the demo prints PDFs too, but needs no browser
check-libraries:
	@$(PYTHON) tools/check_system.py

test: check-system install
	$(PY) -m pytest

bench: install
	$(PY) bench/run.py

lint: install
	$(BIN)/ruff check geo layers maps api tests bench tools
	$(BIN)/mypy

clean:
	rm -rf $(VENV) vendor $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm .pytest_cache
