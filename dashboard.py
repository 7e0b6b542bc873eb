"""aecompare dashboard: `streamlit run dashboard.py`. Compares every trained autoencoder in models/.

Thin on purpose: every visit runs this script, and the page is `aecompare.views.page.main` (the shared data, the
sidebar, the tabs). Never imports TensorFlow: models run through the numpy forward pass
(`aecompare.maths.network`), and the test-set figures are read from the results stored next to the models. The
models folder is $AECOMPARE_MODELS, default models/ next to this file.
"""

from aecompare.views.page import main

main()
