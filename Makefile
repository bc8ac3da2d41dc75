# The README's commands, one target each. Every target is a script under scripts/ that also
# works without make.
.PHONY: demo test lint infra ci

demo:      ## the whole pipeline on this machine, on generated sample photos
	scripts/demo

test:      ## the test suite (unit, engine, pipeline through the real state machine, local runner)
	scripts/test

lint:      ## ruff (lint + format check) and mypy
	scripts/lint

infra:     ## sam validate --lint, sam build, checkov IAM checks, asl-validator
	scripts/check-infra

ci:        ## what CI runs
	bash .ci/run
