"""ScreenSpot-Pro-style evaluation of grounders on annotated screenshots."""
