"""Result URLs handed from CheckStatus to Finalize through DynamoDB, never through state."""

import boto3
import pytest
from moto import mock_aws

from correction_core.result_refs import ResultRefs


@pytest.fixture
def table():
    with mock_aws():
        yield boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="refs",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_a_url_is_kept_for_its_lifetime_and_no_longer(table):
    now = [1000.0]
    refs = ResultRefs(table, clock=lambda: now[0])
    url = "https://r.example.com/a.png?Signature=abc&Expires=1"
    assert refs.remember("t1", url)
    assert refs.recall("t1") == url  # the signed query string exactly as given
    now[0] += 3601
    assert refs.recall("t1") is None
    assert refs.recall("unknown") is None


@pytest.mark.parametrize(
    "image", [None, "", "iVBORw0KGgoAAAANSUhEUg==", "data:image/png;base64,AAAA", "https://x/" + "a" * 9000]
)
def test_base64_and_oversized_results_are_not_kept(table, image):
    refs = ResultRefs(table)
    assert not refs.remember("t2", image)
    assert refs.recall("t2") is None
