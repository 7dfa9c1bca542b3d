#!/bin/sh
# Installs one Kafka Connect plugin from Maven Central into its own directory under the plugin directory.
#
#   install-maven-plugin.sh GROUP:ARTIFACT:VERSION[:CLASSIFIER]:TYPE
#
# TYPE tar.gz: the archive is unpacked into the plugin directory (Debezium and castorm archives contain one
# top-level directory each). TYPE jar: the jar goes to <plugin directory>/<artifact>/.
# The download is checked against the SHA-1 that Maven Central publishes next to every artifact (a truncated
# or substituted download fails the build). The coordinates come from include/contracts/artifacts.yaml
# (kafka_connect.plugins[].install.maven); tests/contracts/test_artifacts.py keeps the Dockerfile in step.
set -eu

coordinates="$1"
plugin_dir="${PLUGIN_DIR:?PLUGIN_DIR is not set}"
repository="${MAVEN_CENTRAL:-https://repo1.maven.org/maven2}"

old_ifs="$IFS"; IFS=:
# shellcheck disable=SC2086 # splitting the coordinates on ':' is the point
set -- $coordinates
IFS="$old_ifs"
case $# in
  4) group="$1"; artifact="$2"; version="$3"; classifier=""; type="$4" ;;
  5) group="$1"; artifact="$2"; version="$3"; classifier="$4"; type="$5" ;;
  *) echo "install-maven-plugin: bad coordinates '$coordinates' (GROUP:ARTIFACT:VERSION[:CLASSIFIER]:TYPE)" >&2; exit 2 ;;
esac

file="${artifact}-${version}${classifier:+-$classifier}.${type}"
url="${repository}/$(printf '%s' "$group" | tr . /)/${artifact}/${version}/${file}"
work="$(mktemp -d)"
curl -fsSL --retry 3 -o "${work}/${file}" "$url"
expected="$(curl -fsSL --retry 3 "${url}.sha1" | cut -c1-40)"
printf '%s  %s\n' "$expected" "${work}/${file}" | sha1sum -c -

case "$type" in
  tar.gz) tar -xzf "${work}/${file}" -C "$plugin_dir" ;;
  jar) mkdir -p "${plugin_dir}/${artifact}" && cp "${work}/${file}" "${plugin_dir}/${artifact}/" ;;
  *) echo "install-maven-plugin: unsupported type '$type'" >&2; exit 2 ;;
esac
rm -rf "$work"
echo "installed ${coordinates}"
