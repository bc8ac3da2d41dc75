"""Reads ``template.yaml`` so the local stack is built from the same source of truth as AWS.

Only the intrinsic functions the template uses are resolved (Ref, GetAtt, Sub, If, Equals, Not,
Or, Select); resource names resolve to the physical names the emulated stack gave them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub`` into ``{"Fn::Sub": …}``."""


def _tag_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameter values and emulated physical resources."""

    template: Mapping[str, Any]
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)  # logical id → Ref value
    arns: dict[str, str] = field(default_factory=dict)  # logical id → Arn attribute
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def with_defaults(cls, template: Mapping[str, Any], overrides: Mapping[str, Any]) -> Resolver:
        params = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        unknown = set(overrides) - set(params)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        params.update({k: str(v) for k, v in overrides.items()})
        return cls(template, params)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((name, arg),) = value.items()
        if name == "Ref":
            return self._ref(arg)
        if name == "Fn::GetAtt":
            return self._get_att(*arg)
        if name == "Fn::Sub":
            return self._sub(arg)
        if name == "Fn::If":
            cond, yes, no = arg
            return self.resolve(yes if self.condition(cond) else no)
        if name == "Fn::Equals":
            left, right = (self.resolve(v) for v in arg)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(arg[0])
        if name == "Fn::Or":
            return any(self.resolve(v) for v in arg)
        if name == "Fn::Select":
            index, items = (self.resolve(v) for v in arg)
            return items[int(index)]
        return {name: self.resolve(arg)}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        raise KeyError(f"Ref {name} has no emulated value")

    def _get_att(self, resource: str, attribute: str) -> str:
        if attribute == "Arn" and resource in self.arns:
            return self.arns[resource]
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        raise KeyError(f"GetAtt {resource}.{attribute} has no emulated value")

    def _sub(self, arg: Any) -> str:
        text = arg if isinstance(arg, str) else arg[0]

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)


def substitute_definition(definition: str, substitutions: Mapping[str, Any]) -> str:
    """What SAM does with DefinitionSubstitutions: replace every ``${Name}``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"definition uses ${{{name}}} but the template does not substitute it")
        return str(substitutions[name])

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", one, definition)
