"""Pipeline steps as plain functions: testable without Dagster, called by thin assets."""
