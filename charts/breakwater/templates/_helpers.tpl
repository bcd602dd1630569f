{{/* Chart name, shortened to fit a DNS label. */}}
{{- define "breakwater.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name, plus the chart name unless the release name contains it.
Truncated to 52 so that suffixes such as "-leader-election" still fit in 63.
*/}}
{{- define "breakwater.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "breakwater.selectorLabels" -}}
app.kubernetes.io/name: {{ include "breakwater.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "breakwater.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "breakwater.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: breakwater
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "breakwater.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "breakwater.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: a digest pins it, else the tag, else the chart's appVersion. */}}
{{- define "breakwater.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Whether the cluster serves (or the user vouches for) a monitoring.coreos.com/v1 kind. */}}
{{- define "breakwater.monitoringApi" -}}
{{- $settings := index . 1 }}
{{- if and $settings.enabled (or $settings.force ((index . 0).Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" (index . 2)))) }}true{{ end }}
{{- end }}

{{/*
The rules of one Role or ClusterRole in config/rbac/ (the source of truth, where each rule
says why it is needed), copied into files/rbac/ by `make chart-sync`; the chart test fails
when the copy drifts. Usage: include "breakwater.rulesOf" (list . "manager-role.yaml")
*/}}
{{- define "breakwater.rulesOf" -}}
{{- $path := printf "files/rbac/%s" (index . 1) }}
{{- $role := (index . 0).Files.Get $path | fromYaml }}
{{- if not $role.rules }}{{ fail (printf "%s holds no rules" $path) }}{{ end }}
{{- toYaml $role.rules }}
{{- end }}
