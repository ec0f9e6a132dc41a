# METADATA
# title: Image is not signed by a trusted key
# description: |
#   Only images whose cosign signature verifies against one of your keys should reach
#   production: an unsigned image, or one signed by anyone else, may not be what your CI
#   built. The rule applies to registry images (`policy eval --image REF`, or `images:` in
#   `.policy.yaml`) whose signatures were looked up, which happens with `--verify-images`
#   or when `settings.trusted_keys` (or `--trusted-key`) names public keys. A signature
#   counts only when a trusted key verifies it and its payload names the image's digest.
#   Keyless (Fulcio) signatures are not verified offline. See docs/supply-chain.md.
# related_resources:
# - https://docs.sigstore.dev/cosign/signing/signing_with_containers/
# - https://github.com/sigstore/cosign/blob/main/specs/SIGNATURE_SPEC.md
# custom:
#   id: IMG005
#   severity: high
#   kinds: [image]
#   remediation: Sign the image in CI (`cosign sign --key`), and list that public key in settings.trusted_keys.
package builtin.image.signature

import rego.v1

deny contains {"msg": msg, "path": ["signatures"]} if {
	is_array(input.signatures)
	count(input.signatures) == 0
	msg := sprintf("image %s (%s) has no cosign signature: sign it with a trusted key", [name, digest])
}

deny contains {"msg": msg, "path": ["signatures"]} if {
	is_array(input.signatures)
	count(input.signatures) > 0
	not any_verified
	reasons := concat("; ", {r | some s in input.signatures; r := reason(s)})
	msg := sprintf("image %s (%s) is not signed by a trusted key: %s", [name, digest, reasons])
}

any_verified if {
	some s in input.signatures
	s.verified == true
}

reason(s) := s.error if is_string(s.error)

else := "unverified"

name := input.source.reference if is_string(input.source.reference)

else := input.name if is_string(input.name)

else := "?"

digest := input.source.digest if is_string(input.source.digest)

else := input.digest if is_string(input.digest)

else := "unknown digest"
