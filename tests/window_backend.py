"""A matplotlib backend for the tests of --show: it "opens" a window by printing its title."""

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg


class FigureManager(FigureManagerBase):
    def show(self):
        figure = self.canvas.figure
        title = figure._suptitle.get_text() if figure._suptitle else figure.axes[0].get_title()
        print(f"window: {title.splitlines()[0]}", flush=True)

    @classmethod
    def start_main_loop(cls):
        # a real backend waits here until the user closes the windows
        print("all windows closed", flush=True)


class FigureCanvas(FigureCanvasAgg):
    manager_class = FigureManager
