"""Planning: diff desired against live state into the minimal safe sequence of MMP steps."""
