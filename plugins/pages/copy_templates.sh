#!/bin/sh
# Copies a plugin's templates beside its manifest in the build tree, so the
# built plugin directory is complete: copy_templates.sh OUTDIR STAMP FILE...
# Each FILE keeps its path below its "templates/" folder
# (pages/templates/pages/index.html -> OUTDIR/templates/pages/index.html).
set -eu
outdir=$1
stamp=$2
shift 2
for file in "$@"; do
  rel=${file##*/templates/}
  mkdir -p "$outdir/templates/$(dirname "$rel")"
  cp "$file" "$outdir/templates/$rel"
done
touch "$stamp"
