"""Which AccessDeniedException of CreateVariantStore/CreateAnnotationStore lets ``auto`` fall back."""

from healthomics_emulator.helpers import NEW_CUSTOMER_MESSAGE
from omics_toolkit.provisioning.healthomics import is_new_customer_refusal


def test_only_the_new_customer_refusal_counts_as_one():
    assert is_new_customer_refusal(NEW_CUSTOMER_MESSAGE)
    assert is_new_customer_refusal("Variant stores are no longer available to new customers")
    assert not is_new_customer_refusal(
        "User: arn:aws:iam::123456789012:user/x is not authorized to perform: "
        "omics:CreateVariantStore because no identity-based policy allows it"
    )
    # an IAM deny that happens to mention customers is still an IAM deny
    assert not is_new_customer_refusal(
        "User: x is not authorized to perform: omics:CreateVariantStore (new customer account)"
    )
    assert not is_new_customer_refusal("")
    assert not is_new_customer_refusal("Access denied")
