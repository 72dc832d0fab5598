"""PII on the 712,404 real NSMC reviews (skipped with a message when ../shared/data is absent)."""

import gzip
import json
import re
from collections import Counter

from curate.text.pii import PiiFinder
from tests.conftest import needs_shared


def test_number_shapes_in_real_reviews_are_not_taken_for_identity_or_account_numbers():
    path = needs_shared("nsmc", "reviews.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["review"] or "" for line in handle]
    # blog post ids in URLs, 1234567890 and the like: shaped like account, business registration and
    # licence numbers, but never next to a bank, 사업자 or 면허 word
    assert sum(1 for text in texts if re.search(r"(?<!\d)\d{10,14}(?!\d)", text)) > 100
    finder = PiiFinder()
    found = Counter(span.kind for text in texts for span in finder(text))
    # what people left in their reviews: e-mail addresses and mobile numbers, nothing else
    assert found == {"email": 43, "phone": 7}
