#!/usr/bin/env bash
# Creates a migration for both dialects from the change to prisma/models.prisma since the last
# one: `npm run migration:new -- add_some_column`. Prisma writes the SQL (migrate diff against
# a snapshot of the schema at the last migration, so no database and no download is needed);
# the service applies it at start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: npm run migration:new -- <name>}"
[[ "$name" =~ ^[a-z0-9_]+$ ]] || { echo "name must be lower_snake_case" >&2; exit 2; }
node scripts/prisma-generate.mjs >/dev/null
stamp="$(date -u +%Y%m%d%H%M%S)"
export PRISMA_CLI_URL_SQLITE="file:./data/cli.db" PRISMA_CLI_URL_POSTGRESQL="postgresql://postgres@127.0.0.1:5432/postgres"
for dialect in sqlite postgresql; do
  dir="prisma/$dialect/migrations"
  # The SQLite CLI adapter opens DATABASE_URL even for a schema-to-schema diff: give it a scratch file.
  url="file:$(mktemp -d)/cli.db"
  [ "$dialect" = postgresql ] && url="$PRISMA_CLI_URL_POSTGRESQL"
  sql="$(DATABASE_URL="$url" node node_modules/prisma/build/index.js migrate diff \
    --config "prisma/$dialect.config.ts" \
    --from-schema-datamodel "$dir/schema.snapshot.prisma" \
    --to-schema-datamodel "prisma/$dialect/schema.prisma" --script)"
  if grep -q "This is an empty migration" <<<"$sql"; then
    echo "$dialect: no change to migrate"
    continue
  fi
  mkdir -p "$dir/${stamp}_$name"
  printf '%s\n' "$sql" >"$dir/${stamp}_$name/migration.sql"
  cp "prisma/$dialect/schema.prisma" "$dir/schema.snapshot.prisma"
  echo "$dialect: wrote $dir/${stamp}_$name/migration.sql"
done
