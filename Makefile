# gancore and the GAN Training Book.
#   make book   — set up .venv (first time) and build the book into _build/html
#   make test   — set up .venv (first time), build the book, run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup book test unit execute clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[book,test]"
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# unit tests, slow training tests, nbval over every chapter, and the browser test of the built book
test: book
	$(BIN)/python -m pytest tests book --nbval-lax -p no:cacheprovider

# only the package's tests (fast feedback while developing)
unit: setup
	$(BIN)/python -m pytest tests -m "not slow" -p no:cacheprovider

# re-execute every chapter in place so the stored outputs come from the code as it stands
execute: setup
	for nb in book/*.ipynb; do \
	  start=$$(date +%s); $(BIN)/jupyter execute --inplace --timeout=600 $$nb || exit 1; \
	  echo "$$nb: $$(( $$(date +%s) - start )) s"; \
	done

clean:
	rm -rf _build
