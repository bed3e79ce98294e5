{{/* Chart name, cut to 63 characters. */}}
{{- define "ori.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name: the prefix of every object this chart creates. */}}
{{- define "ori.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>. Usage: include "ori.component" (list . "backend") */}}
{{- define "ori.component" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "ori.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. Usage: include "ori.labels" (list . "backend") */}}
{{- define "ori.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
{{ include "ori.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: ori
{{- end }}

{{/* Selector labels (never helm.sh/chart). Usage: include "ori.selectorLabels" (list . "backend") */}}
{{- define "ori.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "ori.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* An Ori image. Usage: include "ori.image" (list . "backend") */}}
{{- define "ori.image" -}}
{{- $root := index . 0 }}
{{- printf "%s/ori-%s:%s" $root.Values.global.imageRegistry (index . 1) (default $root.Chart.AppVersion $root.Values.global.imageTag) }}
{{- end }}

{{/* Pod-level settings shared by Ori's own deployments. */}}
{{- define "ori.podDefaults" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{/* Container security context: no privilege, read-only root. */}}
{{- define "ori.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
{{- end }}

{{/* Name of the Secret holding VOXCORE_SECRET and JWT_SECRET. */}}
{{- define "ori.secretsName" -}}
{{- default (include "ori.component" (list . "secrets")) .Values.secrets.existingSecret }}
{{- end }}

{{/* Name of the Secret holding the MinIO credentials. */}}
{{- define "ori.minioSecretName" -}}
{{- default (include "ori.component" (list . "minio")) .Values.minio.existingSecret }}
{{- end }}

{{/* REDIS_URL every service uses. */}}
{{- define "ori.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s:6379/0" (include "ori.component" (list . "redis")) }}
{{- else }}
{{- required "redis.url is required when redis.enabled is false" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* host:port KEDA reads the active-call sets from. */}}
{{- define "ori.kedaRedisAddress" -}}
{{- if .Values.redis.kedaAddress }}
{{- .Values.redis.kedaAddress }}
{{- else if .Values.redis.enabled }}
{{- printf "%s.%s.svc:6379" (include "ori.component" (list . "redis")) .Release.Namespace }}
{{- else }}
{{- fail "redis.kedaAddress (host:port) is required when redis.enabled is false and a FleetPool uses KEDA" }}
{{- end }}
{{- end }}

{{/* The database KEDA reads: the one in REDIS_URL (redis://host:port/<db>), else 0. */}}
{{- define "ori.kedaRedisDatabase" -}}
{{- $url := include "ori.redisUrl" . }}
{{- if regexMatch "^rediss?://[^/]*/[0-9]+([?#].*)?$" $url }}
{{- regexReplaceAll "^rediss?://[^/]*/([0-9]+).*$" $url "${1}" }}
{{- else }}
{{- "0" }}
{{- end }}
{{- end }}

{{/* MONGODB_URI. */}}
{{- define "ori.mongoUri" -}}
{{- if .Values.mongodb.enabled }}
{{- printf "mongodb://%s:27017" (include "ori.component" (list . "mongodb")) }}
{{- else }}
{{- required "mongodb.uri is required when mongodb.enabled is false" .Values.mongodb.uri }}
{{- end }}
{{- end }}

{{/* MINIO_ENDPOINT (host:port). */}}
{{- define "ori.minioEndpoint" -}}
{{- if .Values.minio.enabled }}
{{- printf "%s:9000" (include "ori.component" (list . "minio")) }}
{{- else }}
{{- .Values.minio.endpoint }}
{{- end }}
{{- end }}

{{/* The Redis key KEDA counts for a pool: redis_keys.pool_active_calls(pool). */}}
{{- define "ori.activeCallsKey" -}}
{{- printf "ori:pool:%s:active-calls" . }}
{{- end }}
