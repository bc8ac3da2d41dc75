"""Translate template.yaml (SAM) to plain CloudFormation JSON, offline, for policy linters.

Policy linters judge IAM on AWS::IAM::Role resources, which SAM only creates when it expands
each function's ``Policies``. Runs with the samtranslator that aws-sam-cli installs.

    python scripts/sam_to_cfn.py template.yaml > out.json
"""

import json
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    """The template names no AWS managed policies, so none need looking up (no network)."""

    def load(self):
        return {}


_LOCAL_URIS = ("CodeUri", "ContentUri", "DefinitionUri")


def main(path: str) -> None:
    with open(path) as handle:
        template = yaml_parse(handle.read())
    # The translator wants packaged (S3) artefacts; their place does not change any policy.
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for name in _LOCAL_URIS:
            if isinstance(props.get(name), str) and not props[name].startswith("s3://"):
                props[name] = f"s3://packaged-artefacts/{props[name].strip('/')}"
        # Image functions get their ImageUri from `sam build` (the Dockerfile in Metadata).
        if props.get("PackageType") == "Image" and "ImageUri" not in props:
            props["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/packaged-image:latest"
    try:
        translated = transform(template, {}, _NoManagedPolicies())
    except InvalidDocumentException as exc:
        sys.exit("; ".join(str(cause) for cause in exc.causes))
    json.dump(_select_lists_as_strings(translated), sys.stdout, indent=1, default=str)


def _select_lists_as_strings(node):
    """Numbers in an Fn::Select list as strings: checkov's renderer crashes on a list of numbers
    (3.3.30), and CloudFormation passes a selected "2" to a number property as it does 2."""
    if isinstance(node, dict):
        if isinstance(node.get("Fn::Select"), list) and len(node["Fn::Select"]) == 2:
            index, values = node["Fn::Select"]
            if isinstance(values, list):
                values = [
                    str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in values
                ]
            node["Fn::Select"] = [index, values]
        return {key: _select_lists_as_strings(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_select_lists_as_strings(value) for value in node]
    return node


if __name__ == "__main__":
    main(sys.argv[1])
