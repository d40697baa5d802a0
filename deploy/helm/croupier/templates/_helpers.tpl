{{/*
Names and labels.
*/}}
{{- define "croupier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "croupier.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "croupier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "croupier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "croupier.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "croupier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: croupier
{{- end }}

{{/* Labels of one component (api, worker, relay, migrate, metrics). Args: root, component. */}}
{{- define "croupier.componentLabels" -}}
{{ include "croupier.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "croupier.componentSelectorLabels" -}}
{{ include "croupier.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "croupier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "croupier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "croupier.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The backends. The Secret holding the URLs: the ExternalSecret's target when
that is enabled, else secrets.existingSecret (empty: none).
*/}}
{{- define "croupier.secretName" -}}
{{- if .Values.externalSecret.enabled }}
{{- default (printf "%s-urls" (include "croupier.fullname" .)) .Values.externalSecret.targetName }}
{{- else }}
{{- .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{/* The Secret key of one URL (databaseUrl, redisUrl, natsUrl), or "" when that URL is not configured. */}}
{{- define "croupier.urlKey" -}}
{{- if include "croupier.secretName" .root }}
{{- index .root.Values.secrets.keys .url }}
{{- end }}
{{- end }}

{{/* "true" when there is no database URL: the embedded SQLite store. */}}
{{- define "croupier.embedded" -}}
{{- if not (include "croupier.urlKey" (dict "root" . "url" "databaseUrl")) }}true{{ end }}
{{- end }}

{{- define "croupier.nats" -}}
{{- if include "croupier.urlKey" (dict "root" . "url" "natsUrl") }}true{{ end }}
{{- end }}

{{/*
Roles. The Deployments are api, worker and relay, in this order; what each
process runs (CROUPIER_ROLES) is its `roles` value, or by default its own
name, the worker also running the relay unless the relay has a Deployment.
*/}}
{{- define "croupier.components" -}}
{{- toJson (list "api" "worker" "relay") }}
{{- end }}

{{/* Comma-separated roles of one Deployment. Args: root, name. */}}
{{- define "croupier.processRoles" -}}
{{- $values := index .root.Values .name }}
{{- if $values.roles }}
{{- join "," $values.roles }}
{{- else if eq .name "worker" }}
{{- ternary "worker" "worker,relay" .root.Values.relay.enabled }}
{{- else }}
{{- .name }}
{{- end }}
{{- end }}

{{/*
Shutdown timings of one Deployment: the top-level `shutdown` with the role's
own keys on top (key by key, so that an override of 0 counts). Args: root,
name. Returns JSON with the terminationGracePeriodSeconds to use.
*/}}
{{- define "croupier.shutdown" -}}
{{- $own := (index .root.Values .name).shutdown | default dict }}
{{- $s := dict }}
{{- range $k, $v := .root.Values.shutdown }}
{{- $_ := set $s $k (ternary (get $own $k) $v (hasKey $own $k)) }}
{{- end }}
{{- $timeoutMs := dig "http" "request_timeout_ms" 30000 .root.Values.config | float64 }}
{{- $deadline := ceil (divf $timeoutMs 1000) | int }}
{{- $derived := add (int $s.preStopSleepSeconds) (int $s.drainSeconds) (max (int $s.graceSeconds) $deadline) (int $s.marginSeconds) }}
{{- $grace := $derived }}
{{- if not (kindIs "invalid" $s.terminationGracePeriodSeconds) }}
{{- $grace = int $s.terminationGracePeriodSeconds }}
{{- if lt $grace $derived }}
{{- fail (printf "%s: terminationGracePeriodSeconds %d is below preStopSleepSeconds + drainSeconds + max(graceSeconds, request deadline %ds) + marginSeconds = %d" .name $grace $deadline $derived) }}
{{- end }}
{{- end }}
{{- $_ := set $s "terminationGracePeriodSeconds" $grace }}
{{- toJson $s }}
{{- end }}

{{/*
Environment shared by the serving containers and the migrations: the config
file (serving containers only: the migration needs just the database URL, and
the ConfigMap does not exist yet when a pre-install hook runs), the data
directory, and each configured URL as a file. Args: root, roles (the process's
roles, comma-separated; empty for the migration, which gets the database URL
only; NATS only goes to worker and relay), config (bool).
*/}}
{{- define "croupier.env" -}}
{{- if .config }}
- name: CROUPIER_CONFIG
  value: /etc/croupier/config.toml
{{- end }}
- name: CROUPIER_DATA_DIR
  value: /data
{{- range $url, $var := dict "databaseUrl" "DATABASE_URL" "redisUrl" "REDIS_URL" "natsUrl" "NATS_URL" }}
{{- $key := include "croupier.urlKey" (dict "root" $.root "url" $url) }}
{{- $wanted := dict "databaseUrl" true "redisUrl" (ne $.roles "") "natsUrl" (regexMatch "worker|relay" $.roles) }}
{{- if and $key (get $wanted $url) }}
- name: CROUPIER_{{ $var }}_FILE
  value: /run/secrets/croupier/{{ $key }}
{{- end }}
{{- end }}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volume mounts. Args: root, config (bool). */}}
{{- define "croupier.volumeMounts" -}}
{{- if .config }}
- name: config
  mountPath: /etc/croupier
  readOnly: true
{{- end }}
{{- if include "croupier.secretName" .root }}
- name: secrets
  mountPath: /run/secrets/croupier
  readOnly: true
{{- end }}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Volumes. Args: root, config (bool). */}}
{{- define "croupier.volumes" -}}
{{- $root := .root }}
{{- if .config }}
- name: config
  configMap:
    name: {{ include "croupier.fullname" $root }}
{{- end }}
{{- with include "croupier.secretName" $root }}
- name: secrets
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
- name: data
{{- if $root.Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ $root.Values.persistence.existingClaim | default (printf "%s-data" (include "croupier.fullname" $root)) }}
{{- else }}
  emptyDir: {}
{{- end }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end }}

{{/* The `croupier migrate` container (Job or init container), as a list item. */}}
{{- define "croupier.migrateContainer" -}}
- name: migrate
  image: {{ include "croupier.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: [migrate]
  env:
    {{- include "croupier.env" (dict "root" . "roles" "" "config" false) | trim | nindent 4 }}
  volumeMounts:
    {{- include "croupier.volumeMounts" (dict "root" . "config" false) | trim | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
{{- end }}

{{/*
TOML for `config` (Helm's toToml writes every number as a float, which
Croupier refuses for integer keys). A map's plain keys come first, then its
tables, then its arrays of tables; whole numbers are written as integers.
Args: path (list of keys), table.
*/}}
{{- define "croupier.toml.table" -}}
{{- $path := .path }}
{{- range $k, $v := .table }}
{{- if not (or (kindIs "invalid" $v) (kindIs "map" $v) (include "croupier.toml.isTables" $v)) }}
{{ include "croupier.toml.key" $k }} = {{ include "croupier.toml.value" $v }}
{{- end }}
{{- end }}
{{- range $k, $v := .table }}
{{- $p := append $path (include "croupier.toml.key" $k) }}
{{- if kindIs "map" $v }}

[{{ join "." $p }}]
{{- include "croupier.toml.table" (dict "path" $p "table" $v) }}
{{- else if include "croupier.toml.isTables" $v }}
{{- range $v }}

[[{{ join "." $p }}]]
{{- include "croupier.toml.table" (dict "path" $p "table" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" for a non-empty list of maps (a TOML array of tables). */}}
{{- define "croupier.toml.isTables" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) }}
{{- $all := true }}
{{- range . }}{{ if not (kindIs "map" .) }}{{ $all = false }}{{ end }}{{ end }}
{{- if $all }}true{{ end }}
{{- end }}
{{- end }}

{{- define "croupier.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{- define "croupier.toml.value" -}}
{{- if kindIs "string" . }}{{ toJson . }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if kindIs "float64" . }}{{ if eq . (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if or (kindIs "int" .) (kindIs "int64" .) }}{{ . }}
{{- else if kindIs "slice" . }}[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "croupier.toml.value" $e }}{{ end }}]
{{- else if kindIs "map" . }}{ {{- range $i, $k := keys . | sortAlpha }}{{ if $i }},{{ end }} {{ include "croupier.toml.key" $k }} = {{ include "croupier.toml.value" (get $ $k) }}{{ end }} }
{{- else }}{{ fail (printf "config: %v cannot be written as TOML" .) }}
{{- end }}
{{- end }}

{{/* networkPolicy.egress, with DNS allowed. */}}
{{- define "croupier.egress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{ toYaml .Values.networkPolicy.egress }}
{{- end }}
