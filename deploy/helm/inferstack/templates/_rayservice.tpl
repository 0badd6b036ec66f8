{{/*
One RayService serving one inferstack model server application.
Call with (list $ "chat" .Values.chat). The Serve application's args are `serve` verbatim:
their names are inferstack.serving.ray_args.RayAppArgs's, checked by `inferstack deploy validate`.
*/}}
{{- define "inferstack.rayservice" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $c := index . 2 -}}
{{- $fullname := include "inferstack.fullname" $root -}}
{{- $image := ternary $root.Values.gpuImage $root.Values.image (default false $c.gpu) -}}
{{- $serveConfig := dict "proxy_location" "EveryNode" "http_options" (dict "host" "0.0.0.0" "port" 8000) "applications" (list (dict "name" $name "route_prefix" "/" "import_path" "inferstack.serving.ray_app:build_app" "args" $c.serve)) -}}
apiVersion: ray.io/v1
kind: RayService
metadata:
  name: {{ $fullname }}-{{ $name }}
  labels:
    {{- include "inferstack.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  serviceUnhealthySecondThreshold: {{ $root.Values.ray.serviceUnhealthySecondThreshold }}
  deploymentUnhealthySecondThreshold: {{ $root.Values.ray.deploymentUnhealthySecondThreshold }}
  upgradeStrategy:
    type: {{ $root.Values.ray.upgradeStrategy }}
  serveConfigV2: |
    {{- toYaml $serveConfig | nindent 4 }}
  rayClusterConfig:
    rayVersion: {{ $root.Values.ray.version | quote }}
    enableInTreeAutoscaling: {{ hasKey $c.serve "autoscaling_config" }}
    headGroupSpec:
      rayStartParams:
        dashboard-host: "0.0.0.0"
        metrics-export-port: "8080"
        {{- range $k, $v := $c.head.rayStartParams }}
        {{ $k }}: {{ $v | quote }}
        {{- end }}
      template:
        metadata:
          labels:
            {{- include "inferstack.labels" $root | nindent 12 }}
            app.kubernetes.io/component: {{ $name }}
            inferstack.io/ray-node: head
        spec:
          {{- include "inferstack.raypod" (list $root $c $image "head") | nindent 10 }}
    workerGroupSpecs:
      - groupName: {{ $name }}
        replicas: {{ $c.worker.replicas }}
        minReplicas: {{ $c.worker.minReplicas }}
        maxReplicas: {{ $c.worker.maxReplicas }}
        rayStartParams:
          metrics-export-port: "8080"
          {{- range $k, $v := $c.worker.rayStartParams }}
          {{ $k }}: {{ $v | quote }}
          {{- end }}
        template:
          metadata:
            labels:
              {{- include "inferstack.labels" $root | nindent 14 }}
              app.kubernetes.io/component: {{ $name }}
              inferstack.io/ray-node: worker
          spec:
            {{- include "inferstack.raypod" (list $root $c $image "worker") | nindent 12 }}
{{- end -}}

{{/* Pod spec of a Ray head or worker: (list $ component image "head"|"worker"). */}}
{{- define "inferstack.raypod" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- $image := index . 2 -}}
{{- $role := index . 3 -}}
{{- $group := ternary $c.head $c.worker (eq $role "head") -}}
{{- /* only the head's in-tree autoscaler talks to the Kubernetes API */ -}}
automountServiceAccountToken: {{ and (eq $role "head") (hasKey $c.serve "autoscaling_config") }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile: {type: RuntimeDefault}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: ray-{{ $role }}
    image: {{ include "inferstack.image" (list $image $root) }}
    imagePullPolicy: {{ $image.pullPolicy }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    env:
      - name: RAY_USAGE_STATS_ENABLED
        value: "0"
      # the root filesystem is read-only: Ray's session files and any cache go to /tmp
      - name: HOME
        value: /tmp
      - name: HF_HOME
        value: {{ $root.Values.modelCache.mountPath }}/huggingface
      {{- with $root.Values.internalToken.existingSecret }}
      # only the gateway knows it: every /v1 request without it is refused
      - name: INFERSTACK_API_KEY
        valueFrom:
          secretKeyRef:
            name: {{ . }}
            key: {{ $root.Values.internalToken.key }}
      {{- end }}
      {{- if $root.Values.huggingFace.existingSecret }}
      - name: HF_TOKEN
        valueFrom:
          secretKeyRef:
            name: {{ $root.Values.huggingFace.existingSecret }}
            key: {{ $root.Values.huggingFace.tokenKey }}
      {{- end }}
      {{- include "inferstack.telemetryEnv" (list $root "inferstack-server") | nindent 6 }}
    ports:
      {{- if eq $role "head" }}
      - {name: gcs, containerPort: 6379}
      - {name: dashboard, containerPort: 8265}
      - {name: client, containerPort: 10001}
      {{- end }}
      - {name: serve, containerPort: 8000}
      - {name: metrics, containerPort: 8080}
    resources:
      {{- toYaml $group.resources | nindent 6 }}
    {{- if eq $role "worker" }}
    lifecycle:
      preStop:
        exec:
          command: ["/bin/sh", "-c", "ray stop"]
    {{- end }}
    volumeMounts:
      - {name: model-cache, mountPath: {{ $root.Values.modelCache.mountPath }}}
      - {name: tmp, mountPath: /tmp}
volumes:
  - name: model-cache
    {{- if $root.Values.modelCache.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "inferstack.modelCacheClaim" $root }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  - name: tmp
    emptyDir: {}
{{- end -}}
