# Cluster workflow for inferstack on Kubernetes (EKS + Karpenter, or a laptop cluster).
# Included by the main Makefile; uses kubectl and helm from PATH (helm falls back to the copy
# deploy/tools/install-helm.sh puts in .cache/tools/bin).
#
#   make setup-base setup-models setup-gateway setup-agents setup-observability VALUES=deploy/helm/inferstack/values-graviton.yaml
#   make setup-milvus setup-rag      # the RAG service on Milvus standalone
#   make setup-idp                   # the document processing service and its review queue
#   make status verify-cluster
#   make clean            # only this release's objects
#
# The chart is installed as one Helm release per stage ($(RELEASE)-nodepools, -models, -gateway,
# -monitoring), all named $(RELEASE)-* inside the cluster (fullnameOverride), so each stage can be
# (re)applied on its own and `clean` knows exactly what belongs to this deployment.

RELEASE ?= inferstack
NAMESPACE ?= inferstack
CHART ?= deploy/helm/inferstack
VALUES ?= $(CHART)/values-laptop.yaml
RENDER_DIR ?= build/manifests
KUBECTL ?= kubectl
HELM ?= $(shell command -v helm 2>/dev/null || echo .cache/tools/bin/helm)
INFERSTACK ?= .venv/bin/inferstack
# GPU operator only for values files that run vLLM (override with GPU=1 / GPU=0).
GPU ?= $(if $(findstring gpu,$(notdir $(VALUES))),1,0)

KUBERAY_VERSION ?= 1.7.0
GPU_OPERATOR_VERSION ?=
KUBE_PROMETHEUS_STACK_VERSION ?=
MILVUS_CHART_VERSION ?=
WAIT_TIMEOUT ?= 30m

# Secrets the chart references (values.yaml defaults); created with random values if missing.
SECRETS := inferstack-gateway:master-key inferstack-postgresql:password inferstack-redis:password \
  inferstack-internal-token:token
STAGES := nodepools models gateway agents monitoring rag idp
SELECTOR := inferstack.io/release=$(RELEASE)

helm_version = $(if $(1),--version $(1))
# $(call stage,COMPONENT): install or upgrade the release of one chart component.
stage = $(HELM) upgrade --install $(RELEASE)-$(1) $(CHART) --namespace $(NAMESPACE) \
	--create-namespace --values $(VALUES) --set fullnameOverride=$(RELEASE) \
	--set 'components={$(1)}'

.PHONY: dev-setup deploy-tools setup-base setup-models setup-gateway setup-observability \
	setup-agents setup-milvus setup-rag setup-idp status verify-cluster clean deploy-render deploy-validate cluster-secrets

# Developer machine: the package (make install) plus helm for the offline chart checks.
dev-setup: install deploy-tools
	@command -v $(KUBECTL) >/dev/null || echo "note: kubectl not found; needed for setup-* targets"

deploy-tools:
	bash deploy/tools/install-helm.sh

deploy-render: install deploy-tools
	$(INFERSTACK) deploy render --output $(RENDER_DIR) --values $(VALUES) \
	  --release $(RELEASE) --namespace $(NAMESPACE)

deploy-validate: install deploy-tools
	$(INFERSTACK) deploy validate

# Operators (KubeRay; NVIDIA GPU operator when GPU=1) and the Karpenter node pools.
setup-base:
	$(HELM) repo add kuberay https://ray-project.github.io/kuberay-helm/ --force-update
	$(HELM) upgrade --install kuberay-operator kuberay/kuberay-operator \
	  --namespace kuberay-system --create-namespace --version $(KUBERAY_VERSION) --wait
ifeq ($(GPU),1)
	$(HELM) repo add nvidia https://helm.ngc.nvidia.com/nvidia --force-update
	$(HELM) upgrade --install gpu-operator nvidia/gpu-operator $(call helm_version,$(GPU_OPERATOR_VERSION)) \
	  --namespace gpu-operator --create-namespace --wait
endif
	$(call stage,nodepools) --wait

# The model servers: one RayService each, ready when Serve reports the app running.
setup-models: cluster-secrets
	$(call stage,models)
	$(KUBECTL) -n $(NAMESPACE) wait rayservice -l $(SELECTOR) --for=condition=Ready \
	  --timeout=$(WAIT_TIMEOUT)

cluster-secrets:
	@$(KUBECTL) get namespace $(NAMESPACE) >/dev/null 2>&1 || $(KUBECTL) create namespace $(NAMESPACE)
	@for entry in $(SECRETS); do \
	  name=$${entry%%:*}; key=$${entry#*:}; \
	  if ! $(KUBECTL) -n $(NAMESPACE) get secret $$name >/dev/null 2>&1; then \
	    value=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'); \
	    [ "$$key" = master-key ] && value="sk-master-$$value"; \
	    $(KUBECTL) -n $(NAMESPACE) create secret generic $$name --from-literal=$$key=$$value >/dev/null; \
	    $(KUBECTL) -n $(NAMESPACE) label secret $$name $(SELECTOR) inferstack.io/created-by=make >/dev/null; \
	    echo "created secret $$name (random $$key)"; \
	  fi; \
	done

# The gateway with PostgreSQL and Redis (or external ones, per VALUES).
setup-gateway: cluster-secrets
	$(call stage,gateway) --wait --timeout $(WAIT_TIMEOUT)

# The agent service. Its gateway virtual key goes into the inferstack-agents secret, generated
# once through the gateway's admin API (port-forward, master key from inferstack-gateway).
AGENTS_PORT ?= 18081
setup-agents:
	@if ! $(KUBECTL) -n $(NAMESPACE) get secret inferstack-agents >/dev/null 2>&1; then \
	  master=$$($(KUBECTL) -n $(NAMESPACE) get secret inferstack-gateway -o jsonpath='{.data.master-key}' | base64 -d); \
	  $(KUBECTL) -n $(NAMESPACE) port-forward svc/$(RELEASE)-gateway $(AGENTS_PORT):80 >/dev/null & pf=$$!; \
	  trap "kill $$pf" EXIT; \
	  for i in $$(seq 30); do curl -sf http://127.0.0.1:$(AGENTS_PORT)/health >/dev/null && break; sleep 1; done; \
	  key=$$(curl -sf http://127.0.0.1:$(AGENTS_PORT)/key/generate -H "Authorization: Bearer $$master" \
	    -H 'Content-Type: application/json' -d '{"alias": "agents"}' \
	    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'); \
	  test -n "$$key"; \
	  $(KUBECTL) -n $(NAMESPACE) create secret generic inferstack-agents --from-literal=api-key=$$key >/dev/null; \
	  $(KUBECTL) -n $(NAMESPACE) label secret inferstack-agents $(SELECTOR) inferstack.io/created-by=make >/dev/null; \
	  echo "created secret inferstack-agents (a gateway virtual key)"; \
	fi
	$(call stage,agents) --wait --timeout $(WAIT_TIMEOUT)

# Prometheus Operator + Grafana, then this release's ServiceMonitor/PodMonitor/PrometheusRule.
setup-observability:
	$(HELM) repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
	$(HELM) upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
	  $(call helm_version,$(KUBE_PROMETHEUS_STACK_VERSION)) --namespace monitoring --create-namespace --wait
	$(call stage,monitoring)

# Milvus standalone for the RAG apps (Milvus Lite needs nothing on the cluster).
setup-milvus:
	$(HELM) repo add zilliztech https://zilliztech.github.io/milvus-helm/ --force-update
	$(HELM) upgrade --install $(RELEASE)-milvus zilliztech/milvus $(call helm_version,$(MILVUS_CHART_VERSION)) \
	  --namespace $(NAMESPACE) --create-namespace --set cluster.enabled=false \
	  --wait --timeout $(WAIT_TIMEOUT)

# The RAG service (after setup-gateway and setup-milvus): a gateway virtual key in the
# inferstack-rag Secret (made through the gateway's admin API when missing), then the release.
setup-rag:
	@if ! $(KUBECTL) -n $(NAMESPACE) get secret inferstack-rag >/dev/null 2>&1; then \
	  master=$$($(KUBECTL) -n $(NAMESPACE) get secret inferstack-gateway -o jsonpath='{.data.master-key}' | base64 -d); \
	  $(KUBECTL) -n $(NAMESPACE) port-forward svc/$(RELEASE)-gateway 18081:80 >/dev/null & pf=$$!; \
	  trap "kill $$pf" EXIT; \
	  for i in $$(seq 30); do curl -sf http://127.0.0.1:18081/health >/dev/null && break; sleep 1; done; \
	  key=$$(curl -sf http://127.0.0.1:18081/key/generate -H "Authorization: Bearer $$master" \
	    -H 'Content-Type: application/json' -d '{"metadata":{"created_by":"make setup-rag"}}' \
	    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || exit 1; \
	  $(KUBECTL) -n $(NAMESPACE) create secret generic inferstack-rag --from-literal=api-key=$$key >/dev/null; \
	  $(KUBECTL) -n $(NAMESPACE) label secret inferstack-rag $(SELECTOR) inferstack.io/created-by=make >/dev/null; \
	  echo "created secret inferstack-rag (a gateway virtual key)"; \
	fi
	$(call stage,rag) --set rag.enabled=true --wait --timeout $(WAIT_TIMEOUT)

# The IDP service (after setup-gateway): a gateway virtual key in the inferstack-idp Secret
# (made through the gateway's admin API when missing), then the release.
setup-idp:
	@if ! $(KUBECTL) -n $(NAMESPACE) get secret inferstack-idp >/dev/null 2>&1; then \
	  master=$$($(KUBECTL) -n $(NAMESPACE) get secret inferstack-gateway -o jsonpath='{.data.master-key}' | base64 -d); \
	  $(KUBECTL) -n $(NAMESPACE) port-forward svc/$(RELEASE)-gateway 18082:80 >/dev/null & pf=$$!; \
	  trap "kill $$pf" EXIT; \
	  for i in $$(seq 30); do curl -sf http://127.0.0.1:18082/health >/dev/null && break; sleep 1; done; \
	  key=$$(curl -sf http://127.0.0.1:18082/key/generate -H "Authorization: Bearer $$master" \
	    -H 'Content-Type: application/json' -d '{"metadata":{"created_by":"make setup-idp"}}' \
	    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])') || exit 1; \
	  $(KUBECTL) -n $(NAMESPACE) create secret generic inferstack-idp --from-literal=api-key=$$key >/dev/null; \
	  $(KUBECTL) -n $(NAMESPACE) label secret inferstack-idp $(SELECTOR) inferstack.io/created-by=make >/dev/null; \
	  echo "created secret inferstack-idp (a gateway virtual key)"; \
	fi
	$(call stage,idp) --set idp.enabled=true --wait --timeout $(WAIT_TIMEOUT)

status:
	-$(HELM) list --namespace $(NAMESPACE) --filter '^$(RELEASE)-'
	-$(KUBECTL) -n $(NAMESPACE) get rayservices,rayclusters,deployments,statefulsets,pods,services,hpa,pdb,ingress,pvc -l $(SELECTOR)
	-$(KUBECTL) get nodepools,ec2nodeclasses,nodeclaims -l $(SELECTOR) 2>/dev/null
	-$(KUBECTL) get nodes -L inferstack.io/pool,kubernetes.io/arch,node.kubernetes.io/instance-type

# End to end through the gateway: models listed, one chat completion answered.
verify-cluster:
	$(KUBECTL) -n $(NAMESPACE) wait rayservice -l $(SELECTOR) --for=condition=Ready --timeout=10m
	$(KUBECTL) -n $(NAMESPACE) rollout status deployment/$(RELEASE)-gateway --timeout=5m
	@key=$$($(KUBECTL) -n $(NAMESPACE) get secret inferstack-gateway -o jsonpath='{.data.master-key}' | base64 -d); \
	$(KUBECTL) -n $(NAMESPACE) port-forward svc/$(RELEASE)-gateway 18080:80 >/dev/null & pf=$$!; \
	trap "kill $$pf" EXIT; \
	for i in $$(seq 30); do curl -sf http://127.0.0.1:18080/health >/dev/null && break; sleep 1; done; \
	curl -sf http://127.0.0.1:18080/v1/models -H "Authorization: Bearer $$key" && echo && \
	curl -sf http://127.0.0.1:18080/v1/chat/completions -H "Authorization: Bearer $$key" \
	  -H 'Content-Type: application/json' \
	  -d '{"model":"default","messages":[{"role":"user","content":"Q: What is the capital of France?\nA:"}],"max_tokens":16,"temperature":0}' \
	  && echo && echo "verify-cluster: OK"

# Removes this deployment only: its Helm releases, then the PVCs and secrets labelled with
# inferstack.io/release=$(RELEASE) (a StatefulSet's claims outlive `helm uninstall`) and those of
# its Milvus release. Operators, other releases and every other PVC are left alone.
clean:
	-$(HELM) uninstall $(RELEASE)-milvus --namespace $(NAMESPACE) --ignore-not-found --wait
	$(foreach s,$(STAGES),$(HELM) uninstall $(RELEASE)-$(s) --namespace $(NAMESPACE) --ignore-not-found --wait &&) true
	$(KUBECTL) -n $(NAMESPACE) delete pvc -l $(SELECTOR) --ignore-not-found
	$(KUBECTL) -n $(NAMESPACE) delete pvc -l app.kubernetes.io/instance=$(RELEASE)-milvus --ignore-not-found
	$(KUBECTL) -n $(NAMESPACE) delete pvc -l release=$(RELEASE)-milvus --ignore-not-found
	$(KUBECTL) -n $(NAMESPACE) delete secret -l $(SELECTOR),inferstack.io/created-by=make --ignore-not-found
