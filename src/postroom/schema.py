"""Every capability's tables on one metadata, for migrations and schema checks."""

from postroom.auth import models as auth_models
from postroom.automation import models as automation_models
from postroom.core import models as core_models
from postroom.send import models as send_models
from postroom.store import blobs as blob_models
from postroom.store import counters as counter_models
from postroom.store import models as store_models
from postroom.store.base import Base

metadata = Base.metadata

__all__ = [
    "auth_models",
    "automation_models",
    "blob_models",
    "core_models",
    "counter_models",
    "metadata",
    "send_models",
    "store_models",
]
