#!/usr/bin/env python3
"""Writes labels.tsv from the pooled findings of the three tools and the judgements below
(bench/recall/README.md). Run from the repository root after run.sh has kept its outputs
in OUT (default /tmp/recall)."""
import sys, runpy, io, contextlib
OUT = sys.argv[1] if len(sys.argv) > 1 else '/tmp/recall'
sys.argv=['score.py','/work/shared/corpora','/dev/null',OUT+'/policy.json',OUT+'/hadolint.jsonl',OUT+'/checkov.json',OUT+'/parsed']
with contextlib.redirect_stdout(io.StringIO()):
    g=runpy.run_path('bench/recall/score.py')
tools=g['tools']
# Class-level judgements (see BENCHMARKS.md "Recall against hand labels").
NOT_REAL = {
 'CKV_K8S_11': 'CPU limits are not required (throttling); requests are',
 'CKV_K8S_35': 'secretKeyRef is the safe pattern',
 'CKV_K8S_40': 'a low non-root UID is not a problem',
 'CKV_K8S_29': 'generic "has a securityContext"; the settings are judged one by one',
 'CKV_K8S_30': 'as CKV_K8S_29',
 'DL1000': 'hadolint parse error on valid BuildKit syntax',
 'DL3047': 'wget progress output is log noise',
 'DL3059': 'consecutive RUNs cache better; not a defect',
}
# (class, which tools reported it) -> judgement for instances only some tools report,
# after reading them (examples in BENCHMARKS.md).
BY_WHO = {
 ('DF100','h'): 'no: `echo $sha | sha256sum -c -`, `case a|b)` patterns and pipes whose last command decides',
 ('DF113','h'): 'no: cd inside a longer script is ordinary shell',
 ('DF103','h'): 'no: lists removed with apt-get dist-clean / rm later in the same RUN',
 ('DF112','h'): 'no: apt-get install -s (simulation) never asks',
 ('K8S036','c'): 'no: no namespace in the manifest, placed by the tool that applies it',
 ('DF009','c'): 'no: base images and tools that run no service',
 ('DF006','c'): 'no: ADD of a git URL with --keep-git-dir, which COPY cannot do',
 ('K8S011','c'): 'no: controllers with a dedicated service account that call the API',
 ('K8S009','c'): 'no: digest-pinned images (imagePullPolicy is moot) and untagged images counted once',
 ('K8S002','c'): 'no: runAsNonRoot/runAsUser set at pod level',
 ('K8S004','c'): 'no: adds only NET_BIND_SERVICE and drops ALL',
 ('DF013','c'): 'no: installs the sudo package, does not use it',
 ('DF109','c'): 'no: `apk index --allow-untrusted` indexes local packages, installs nothing',
 ('DF001','c'): 'no: FROM a stage named through a variable (build-base-${V})',
 ('DF001','p'): 'no: FROM a stage named through a variable (bin-image-${TARGETOS}); a policy false positive',
 ('DF014','h'): 'no: apt-get install -s (simulation)',
}
# Single instances read by hand and judged not to be problems.
BY_KEY = {
 ('dockerfiles/redis__6.2__alpine.Dockerfile','56','DF015'): 'no: `apk add --no-network` installs already-present packages, fetches no index to cache',
 ('dockerfiles/redis__7.4-rc__alpine.Dockerfile','56','DF015'): 'no: as redis 6.2',
 ('dockerfiles/buildkit-features/docker_cli__Dockerfile.Dockerfile','-','DF002'): 'no: final stage is `FROM scratch` + `COPY --from=build /out .` with no CMD/ENTRYPOINT, an export stage for `--output` that runs nothing',
 ('k8s/kube-prometheus/blackboxExporter-service.yaml','Service/blackbox-exporter','K8S103'): 'no: its Deployment is blackboxExporter-deployment.yaml, outside the sample',
 ('k8s/kube-prometheus/prometheusAdapter-service.yaml','Service/prometheus-adapter','K8S103'): 'no: its Deployment is prometheusAdapter-deployment.yaml, outside the sample',
 ('k8s/kubernetes-examples/_archived__openshift-origin__etcd-service.yaml','Service/etcd','K8S103'): 'no: its controller is _archived__openshift-origin__etcd-controller.yaml, outside the sample',
 ('k8s/kubernetes-examples/_archived__volumes__nfs__nfs-server-service.yaml','Service/nfs-server','K8S103'): 'no: its Deployment is _archived__volumes__nfs__nfs-server-deployment.yaml, outside the sample',
 ('k8s/kubernetes-examples/databases__mysql-cinder-pd__mysql-service.yaml','Service/mysql','K8S103'): 'no: its Pod is databases__mysql-cinder-pd__mysql.yaml, outside the sample',
 ('k8s/kubernetes-examples/web__guestbook__frontend-service.yaml','Service/frontend','K8S103'): 'no: its Deployment is web__guestbook__frontend-deployment.yaml, outside the sample',
}
rows=[]
for k in sorted(set().union(*tools.values())):
    who=''.join(t[0] for t in ('policy','hadolint','checkov') if k in tools[t])
    if k[2] in NOT_REAL: continue
    if k in BY_KEY: continue
    j=BY_WHO.get((k[2],who))
    if j: continue
    rows.append((k[0],k[1],k[2],'reported by '+who))
# Problems no tool reports, found by reading the files: none added (see limitations).
with open('bench/recall/labels.tsv','w') as f:
    f.write('# Real problems in the sample (bench/recall/README.md): corpus path, anchor, class, how found.\n')
    f.write('# Candidates: every finding of policy, hadolint and checkov, judged by class and, where the tools disagree, by reading them.\n')
    for r in rows: f.write('\t'.join(r)+'\n')
print(len(rows))
