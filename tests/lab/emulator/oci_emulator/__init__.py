"""An emulator of the OCI Email Delivery SMTP endpoint, for the ocirelay lab.

This is NOT Oracle's service. It follows the behaviour Oracle documents for the Email Delivery
SMTP endpoint (replies and their texts, TLS and AUTH rules, approved senders, limits), as
gathered in the project's ``oci-facts.md``, so that Postfix and Exim relays can be exercised
without reaching Oracle Cloud. Where Oracle documents nothing (for example the text of a 530
reply), the emulator says so next to the reply it chose (see ``replies.py``).

Run it with ``python3 -m oci_emulator --config FILE``; it needs only the Python standard
library, aiosmtpd and PyYAML.
"""

__version__ = "0.1.0"
