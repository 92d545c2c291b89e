#!/usr/bin/env bash
# Regenerate the seed corpora under fuzz/corpus/<target>/ (gitignored) from fixtures/, the shared
# capture corpus ($EGRESSMAP_CORPUS, default ../shared/corpus) and the signature sources.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --example seeds -- corpus
