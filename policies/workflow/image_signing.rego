# METADATA
# title: Image is pushed without being signed
# description: |
#   An unsigned image cannot be verified: whoever can push to the registry (a leaked
#   token, a compromised pipeline) can replace it, and consumers cannot tell. Signing
#   in the workflow that pushes (Sigstore cosign keyless signing, or GitHub artifact
#   attestations, which are Sigstore-signed) lets deployments and admission controllers
#   verify where an image came from.
#   Pushes are `docker/build-push-action` or `docker/bake-action` with `push: true`
#   (or an expression), `outputs: type=registry`, push actions, and `docker|podman|
#   buildah push`, `crane push|copy`, `docker buildx imagetools create`, `docker buildx
#   build --push` in `run:` scripts. Signing is `sigstore/cosign-installer` (followed by
#   a `cosign sign` in some script), `cosign sign|attest`, `notation sign`,
#   `actions/attest-build-provenance` or `actions/attest`.
# related_resources:
# - https://docs.sigstore.dev/cosign/signing/signing_with_containers/
# - https://docs.github.com/en/actions/security-for-github-actions/using-artifact-attestations/using-artifact-attestations-to-establish-provenance-for-builds
# - https://slsa.dev/spec/v1.0/levels
# custom:
#   id: WF004
#   severity: medium
#   kinds: [workflow]
#   remediation: Sign the pushed digest, e.g. sigstore/cosign-installer then `cosign sign --yes <image>@<digest>` (keyless, with the id-token write permission), or actions/attest-build-provenance with push-to-registry set to true.
package builtin.workflow.image_signing

import data.lib.workflow as wf
import rego.v1

deny contains {"msg": msg, "path": s.path} if {
	not signed
	some s in wf.steps
	wf.pushes(s.step)
	msg := sprintf("job %q pushes a container image but the workflow never signs it: sign the pushed digest with cosign (or actions/attest-build-provenance)", [s.job])
}

signed if {
	some s in wf.steps
	wf.signs(s.step)
}
