-- Bundles limited to rating groups (issue 9 point 2: `ocsd bundle create ... --rating-groups 20,21`, an app
-- bundle): empty = the bundle serves any rating group of its allowance's kind.
ALTER TABLE bundle_catalog ADD COLUMN rating_groups bigint[] NOT NULL DEFAULT '{}';
