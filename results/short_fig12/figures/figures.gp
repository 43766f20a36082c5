# figures of results/short_fig12, drawn by sakd collect from table.csv and layers.csv
set datafile missing 'nan'
set encoding utf8
set terminal svg dynamic noenhanced size 900,540
set output 'accuracy.svg'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "distill.teacher=none", 'accuracy.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'accuracy.png'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'accuracy.dat' using 2:3:xtic(1) title "distill.teacher=none", 'accuracy.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'firing.svg'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "distill.teacher=none", 'firing.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'firing.png'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'firing.dat' using 2:3:xtic(1) title "distill.teacher=none", 'firing.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'energy.svg'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "distill.teacher=none", 'energy.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'energy.png'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "model.surrogate"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
plot 'energy.dat' using 2:3:xtic(1) title "distill.teacher=none", 'energy.dat' using 4:5 title "distill.teacher=teacher"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 1100,540
set output 'firing_layers.svg'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "model.surrogate=triangle, distill.teacher=none", 'firing_layers.dat' using 1:5:6 title "model.surrogate=triangle, distill.teacher=teacher", 'firing_layers.dat' using 1:7:8 title "model.surrogate=sigmoid, distill.teacher=none", 'firing_layers.dat' using 1:9:10 title "model.surrogate=sigmoid, distill.teacher=teacher", 'firing_layers.dat' using 1:11:12 title "model.surrogate=atan, distill.teacher=none", 'firing_layers.dat' using 1:13:14 title "model.surrogate=atan, distill.teacher=teacher"
set xtics norotate
set terminal pngcairo noenhanced size 1100,540
set output 'firing_layers.png'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "model.surrogate=triangle, distill.teacher=none", 'firing_layers.dat' using 1:5:6 title "model.surrogate=triangle, distill.teacher=teacher", 'firing_layers.dat' using 1:7:8 title "model.surrogate=sigmoid, distill.teacher=none", 'firing_layers.dat' using 1:9:10 title "model.surrogate=sigmoid, distill.teacher=teacher", 'firing_layers.dat' using 1:11:12 title "model.surrogate=atan, distill.teacher=none", 'firing_layers.dat' using 1:13:14 title "model.surrogate=atan, distill.teacher=teacher"
set xtics norotate
