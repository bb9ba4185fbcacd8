-- The versions still to publish, found without reading every adjustment: approving a 50k-row
-- upload publishes 500 at a time, and the index on (published_version, version) cannot answer
-- `published_version < version`, so each batch read the whole table. A partial index holds
-- only the rows still to publish, in the order they are published.
DROP INDEX adjustments_unpublished;
CREATE INDEX adjustments_unpublished ON adjustments (id) WHERE published_version < version;
