{{/* Chart name. */}}
{{- define "inferstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Base name of every object; shared by the per-stage releases of deploy/cluster.mk. */}}
{{- define "inferstack.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "inferstack.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "inferstack.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "true" when this release renders the component given as the second list item. */}}
{{- define "inferstack.has" -}}
{{- $root := index . 0 -}}
{{- if has (index . 1) $root.Values.components -}}true{{- end -}}
{{- end -}}

{{/* Labels on every object. inferstack.io/release ties together the releases of one deployment
     (and lets `make clean` find this deployment's PVCs and nothing else). */}}
{{- define "inferstack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "inferstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
inferstack.io/release: {{ include "inferstack.fullname" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: call with (list $ "gateway"). */}}
{{- define "inferstack.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "inferstack.name" $root }}
inferstack.io/release: {{ include "inferstack.fullname" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "inferstack.image" -}}
{{- $img := index . 0 -}}
{{- $root := index . 1 -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "inferstack.modelCacheClaim" -}}
{{- default (printf "%s-model-cache" (include "inferstack.fullname" .)) .Values.modelCache.existingClaim -}}
{{- end -}}

{{- define "inferstack.postgresql.host" -}}
{{- printf "%s-postgresql" (include "inferstack.fullname" .) -}}
{{- end -}}

{{- define "inferstack.redis.host" -}}
{{- printf "%s-redis" (include "inferstack.fullname" .) -}}
{{- end -}}

{{/* Tracing of one process (second list item: its service name), as every inferstack process
     reads it: the standard OTEL_* variables (TelemetrySettings). Nothing when
     telemetry.otlpEndpoint is empty: no process exports a span unless told where. */}}
{{- define "inferstack.telemetryEnv" -}}
{{- $t := (index . 0).Values.telemetry -}}
{{- if $t.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ index . 1 | quote }}
- name: INFERSTACK_TELEMETRY_SAMPLE_RATIO
  value: {{ $t.sampleRatio | quote }}
{{- with $t.headers.existingSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $t.headers.key }}
{{- end }}
{{- if $t.recordContent }}
- name: INFERSTACK_TELEMETRY_RECORD_CONTENT
  value: "true"
{{- end }}
{{- end }}
{{- end -}}
