"""Everything `dg.load_from_defs_folder` loads: one folder per dataset (a Dataset component: defs.yaml + contract),
and automation/ (jobs and their schedules, sensors) spanning the datasets."""
