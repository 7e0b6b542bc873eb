"""aecompare dashboard: `streamlit run dashboard.py`. Compares every trained autoencoder in models/.

Two roles, as Streamlit gives them (`st.App`):
- `streamlit run dashboard.py` first imports this file to find the app it serves: `app`, whose start fills the
  default view's caches in the background (`aecompare.views.warm`), while a first visitor's browser loads the page;
- then every visit runs it as the page's script (`__name__ == "__main__"`): `aecompare.views.page.main`.
Never imports TensorFlow: models run through the numpy forward pass (`aecompare.maths.network`), and the
test-set figures are read from the results stored next to the models. The models folder is
$AECOMPARE_MODELS, default models/ next to this file.
"""

import streamlit as st

if __name__ == "__main__":
    from aecompare.views.page import main

    main()
else:
    from aecompare.views.warm import warm_start

    app = st.App(__file__, lifespan=warm_start)
